using System.Diagnostics;
using System.Globalization;
using System.Text;
using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>Traffic helpers of the lab: each answers "did it get through?" with a bool.</summary>
public sealed partial class NetnsLab
{
    private const string UdpReceiver =
        "use IO::Socket::IP; alarm shift; my $s = IO::Socket::IP->new(LocalHost => shift, LocalPort => shift, Proto => 'udp') or die \"bind: $!\"; "
        + "print STDERR \"ready\\n\"; $s->recv(my $b, 2048); print $b;";

    private const string UdpSender =
        "use IO::Socket::IP; my $s = IO::Socket::IP->new(PeerHost => shift, PeerPort => shift, Proto => 'udp') or die \"socket: $!\"; "
        + "$s->send(shift) or die \"send: $!\";";

    private int nextPort = 20000 + RandomPortOffset();

    /// <summary>Pings <paramref name="toAddress"/> (IPv4 or IPv6) from a namespace; true when at least one reply came.</summary>
    public bool Ping(string fromNamespace, string toAddress, int count = 1, TimeSpan? timeout = null)
    {
        var seconds = Seconds(timeout ?? TimeSpan.FromSeconds(2));
        var result = Run(fromNamespace, new ProcessRequest("ping", "-n", "-q", "-c", Int(count), "-i", "0.2", "-W", Int(seconds), toAddress)
        {
            Timeout = TimeSpan.FromSeconds(seconds + (count * 0.2) + 5),
        });
        return result.Succeeded;
    }

    /// <summary>
    /// Starts a one-shot TCP listener (busybox nc) in <paramref name="listenerNamespace"/>, connects to it from
    /// <paramref name="fromNamespace"/> and sends a token; true when the listener received the token.
    /// </summary>
    public bool TcpConnect(string fromNamespace, string listenerNamespace, string address, int? port = null, TimeSpan? timeout = null)
    {
        var p = port ?? NextPort();
        var seconds = Seconds(timeout ?? TimeSpan.FromSeconds(2));
        var token = "nwft-tcp-" + Id;
        using var listener = StartBackground(listenerNamespace, "busybox", "nc", "-l", "-p", Int(p));
        WaitForSocket(listenerNamespace, "-Hltn", p);
        var client = Run(fromNamespace, new ProcessRequest("busybox", "nc", "-w", Int(seconds), address, Int(p))
        {
            StandardInput = token + "\n",
            Timeout = TimeSpan.FromSeconds(seconds + 5),
        });
        listener.WaitForExit(TimeSpan.FromSeconds(client.Succeeded ? 2 : 0));
        return client.Succeeded && listener.Output.Contains(token, StringComparison.Ordinal);
    }

    /// <summary>Sends one UDP datagram from one namespace to a listener in another; true when it was received.</summary>
    public bool UdpDelivered(string fromNamespace, string listenerNamespace, string address, int? port = null, TimeSpan? timeout = null)
    {
        var p = port ?? NextPort();
        var seconds = Seconds(timeout ?? TimeSpan.FromSeconds(2));
        var token = "nwft-udp-" + Id;
        var bind = address.Contains(':', StringComparison.Ordinal) ? "::" : "0.0.0.0";
        using var listener = StartBackground(listenerNamespace, "perl", "-e", UdpReceiver, Int(seconds + 5), bind, Int(p));
        listener.WaitForError("ready", TimeSpan.FromSeconds(5));
        Run(fromNamespace, "perl", "-e", UdpSender, address, Int(p), token);
        listener.WaitForExit(TimeSpan.FromSeconds(seconds));
        return listener.Output.Contains(token, StringComparison.Ordinal);
    }

    /// <summary>
    /// Sends frames from <paramref name="vm"/> with a forged source MAC (the VM's interface MAC is changed for the
    /// moment of a ping and then restored, and the observer's neighbour cache flushed) and reports whether any frame with that source MAC reached
    /// <paramref name="observer"/>'s interface.
    /// </summary>
    public bool SpoofedMacArrives(LabVm vm, LabVm observer, string spoofedMac, TimeSpan? window = null)
    {
        using var capture = StartCapture(observer, $"ether src {spoofedMac}");
        Run(vm.Namespace, "ip", "link", "set", vm.Interface, "address", spoofedMac).EnsureSuccess();
        try
        {
            Ping(vm.Namespace, observer.IPv4, count: 2, timeout: TimeSpan.FromSeconds(1));
        }
        finally
        {
            Run(vm.Namespace, "ip", "link", "set", vm.Interface, "address", vm.Mac).EnsureSuccess();

            // The observer learned the forged MAC for the VM's address; forget it so normal traffic works again.
            Run(observer.Namespace, "ip", "neigh", "flush", "dev", observer.Interface);
        }

        return capture.WaitForExit(window ?? TimeSpan.FromSeconds(1)) && capture.Output.Length > 0;
    }

    /// <summary>
    /// Sends pings from <paramref name="vm"/> with a forged source IPv4 address (added to its interface for the moment
    /// of the ping) and reports whether any IPv4 packet from that address reached <paramref name="observer"/>.
    /// </summary>
    public bool SpoofedIPv4Arrives(LabVm vm, LabVm observer, string spoofedAddress, TimeSpan? window = null)
    {
        using var capture = StartCapture(observer, $"ip src host {spoofedAddress}");
        Run(vm.Namespace, "ip", "addr", "add", spoofedAddress + "/32", "dev", vm.Interface).EnsureSuccess();
        try
        {
            Run(vm.Namespace, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", "-I", spoofedAddress, observer.IPv4);
        }
        finally
        {
            Run(vm.Namespace, "ip", "addr", "del", spoofedAddress + "/32", "dev", vm.Interface);
        }

        return capture.WaitForExit(window ?? TimeSpan.FromSeconds(1)) && capture.Output.Length > 0;
    }

    /// <summary>Starts tcpdump on a VM's interface for the first frame matching a pcap filter; waits until it listens.</summary>
    public LabProcess StartCapture(LabVm vm, string filter)
    {
        var capture = StartBackground(vm.Namespace, "tcpdump", "-i", vm.Interface, "-nn", "-l", "-c", "1", "-p", filter);
        capture.WaitForError("listening on", TimeSpan.FromSeconds(5));
        return capture;
    }

    /// <summary>Starts a long-running program in a namespace; it is killed when the handle or the lab is disposed.</summary>
    public LabProcess StartBackground(string namespaceName, string program, params string[] arguments)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var start = new ProcessStartInfo("ip")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var argument in new[] { "netns", "exec", namespaceName, program }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start };
        var handle = new LabProcess(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        background.Add(process);
        return handle;
    }

    private void WaitForSocket(string namespaceName, string ssOptions, int port)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            var ss = Run(namespaceName, "ss", ssOptions, $"sport = :{Int(port)}");
            if (ss.StandardOutput.Trim().Length > 0)
            {
                return;
            }

            Thread.Sleep(20);
        }

        throw new TimeoutException($"nothing listens on port {port} in {namespaceName}");
    }

    private int NextPort() => Interlocked.Increment(ref nextPort);

    private static int RandomPortOffset() => System.Security.Cryptography.RandomNumberGenerator.GetInt32(10000);

    private static int Seconds(TimeSpan span) => Math.Max(1, (int)Math.Ceiling(span.TotalSeconds));

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A program the lab runs in the background, with its output collected as it arrives.</summary>
public sealed class LabProcess : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly StringBuilder error = new();

    internal LabProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(error, e.Data);
    }

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public string Error
    {
        get
        {
            lock (error)
            {
                return error.ToString();
            }
        }
    }

    /// <summary>Waits for the program to exit by itself; true when it did within the time.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
        {
            return false;
        }

        process.WaitForExit(); // flushes the asynchronous readers
        return true;
    }

    /// <summary>Waits until stderr contains <paramref name="text"/> (a readiness message); throws on timeout or exit.</summary>
    public void WaitForError(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Error.Contains(text, StringComparison.Ordinal))
        {
            if (clock.Elapsed > timeout || process.HasExited)
            {
                throw new TimeoutException($"background program did not say '{text}': {Error}");
            }

            Thread.Sleep(10);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static void Append(StringBuilder builder, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (builder)
        {
            builder.Append(line).Append('\n');
        }
    }
}
