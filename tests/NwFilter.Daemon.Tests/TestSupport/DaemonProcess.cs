using System.Diagnostics;
using System.Runtime.InteropServices;
using NwFilter.Core.Host;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Daemon.Tests.TestSupport;

/// <summary>
/// nwfilterd started as a process (the build's nwfilterd.dll, copied beside the tests) on a socket in a temporary
/// directory, with its own config and state directories, optionally inside a network namespace. Its log lines are
/// kept; <see cref="StopAsync"/> sends SIGTERM and waits.
/// </summary>
internal sealed class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DaemonProcess(Process process, string socket, string control)
    {
        _process = process;
        Socket = socket;
        ControlSocket = control;
    }

    public string Socket { get; }

    /// <summary>The daemon's control socket (the cmdlets' door): in the test's directory.</summary>
    public string ControlSocket { get; }

    public int ProcessId => _process.Id;

    public string Uri => $"nwfilter:///system?socket={Socket}";

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>Starts nwfilterd over <paramref name="dir"/> (config/, state/, sock) and waits until it listens.</summary>
    public static Task<DaemonProcess> StartAsync(TempDirectory dir, string? netns = null, params string[] extra) =>
        StartOnSocketAsync(dir, dir.Combine("sock"), netns, extra);

    /// <summary>Starts nwfilterd over <paramref name="dir"/> (config/, state/) listening on <paramref name="socket"/>.</summary>
    public static async Task<DaemonProcess> StartOnSocketAsync(TempDirectory dir, string socket, string? netns, string[] extra)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "nwfilterd.dll");
        var control = dir.Combine("control.sock");
        var psi = new ProcessStartInfo(netns is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (netns is not null)
        {
            foreach (var a in new[] { "netns", "exec", netns, "dotnet" })
            {
                psi.ArgumentList.Add(a);
            }
        }
        foreach (var a in new[] { dll, "--libvirt-socket", socket, "--libvirt-binding-dir", dir.Combine("no-libvirt-bindings"), "--control-socket", control }.Concat(extra))
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment[StoreLocation.ConfigDirectoryVariable] = dir.Combine("config");
        psi.Environment[StoreLocation.StateDirectoryVariable] = dir.Combine("state");
        var process = Process.Start(psi) ?? throw new InvalidOperationException("nwfilterd did not start");
        var daemon = new DaemonProcess(process, socket, control);
        process.OutputDataReceived += (_, e) => daemon.Add(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        if (await Task.WhenAny(daemon._listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60))) != daemon._listening.Task)
        {
            await daemon.DisposeAsync();
            throw new InvalidOperationException("nwfilterd did not start listening:\n" + string.Join("\n", daemon.Lines));
        }
        return daemon;
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_lines)
        {
            _lines.Add(line);
        }
        if (line.StartsWith("listening on ", StringComparison.Ordinal))
        {
            _listening.TrySetResult();
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGTERM, then the exit code (killed after 30 s).</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, 15);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        _process.WaitForExit(); // drains the output
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>A network namespace for one test class (named as the lab's, so a crashed run's is swept), with veth ports.</summary>
internal sealed class TestNamespace : IDisposable
{
    private static int _counter;

    public TestNamespace()
    {
        Name = $"{NetnsSweeper.Prefix}dmn{Interlocked.Increment(ref _counter)}-{Environment.ProcessId}-d";
        Run("ip", "netns", "add", Name);
        Run("ip", "-n", Name, "link", "set", "lo", "up");
    }

    public string Name { get; }

    /// <summary>A veth pair PORT / PORTp in namespace <paramref name="netns"/>, PORT up.</summary>
    public static void AddPort(string netns, string port)
    {
        Run("ip", "-n", netns, "link", "add", port, "type", "veth", "peer", "name", port + "p");
        Run("ip", "-n", netns, "link", "set", port, "up");
    }

    public static ProcessResult Run(params string[] args) =>
        ProcessRunner.Default.RunAsync(new ProcessRequest(args[0], args[1..]) { Timeout = TimeSpan.FromSeconds(60) }).GetAwaiter().GetResult();

    public void Dispose() => NetnsSweeper.Delete([Name]);
}
