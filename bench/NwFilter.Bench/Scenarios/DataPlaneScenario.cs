using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using System.Text;
using System.Text.Json;
using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// The data plane with N bound ports (root; iperf3): a namespace bridge with N clean-traffic ports. The first-bound
/// port (vnet0) and the last-bound port (vnet{N-1}) lead to VM namespaces that send through the bridge to an unfiltered
/// receiver namespace; the other N-2 ports are veth pairs with no traffic (their rules are what the traffic of the
/// last-bound port has to get past on EbIpTables). One such bridge per configuration, all built first and alive
/// together: no filter at all, N bindings on nftables, N on EbIpTables (bound: the first port alone, then the middle
/// ports in one batch, then the last port alone, so the order in libvirt's chains is the bind order). Measured with
/// iperf3 from each of the two ports: 64-byte frames of UDP (18-byte payload, unlimited rate: received packets/s) and
/// TCP (received bits/s). Each round measures one (port, test) on every configuration back to back; the ratio
/// filtered/unfiltered is taken per round (measurements seconds apart; the order rotates per round), and the median over the rounds is printed.
/// </summary>
public sealed class DataPlaneScenario : IScenario
{
    public string Name => "dataplane";

    public string Description => "data plane with N clean-traffic ports, iperf3 (root): dataplane [n=1000] [runs=3] [seconds=4] [backends=Nftables,EbIpTables]";

    private static readonly IProcessRunner Runner = ProcessRunner.Default;

    public int Run(string[] args)
    {
        var options = args.Select(a => a.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        var n = int.Parse(options.GetValueOrDefault("n", "1000"), CultureInfo.InvariantCulture);
        var runs = int.Parse(options.GetValueOrDefault("runs", "3"), CultureInfo.InvariantCulture);
        var seconds = int.Parse(options.GetValueOrDefault("seconds", "4"), CultureInfo.InvariantCulture);
        var backends = options.GetValueOrDefault("backends", "Nftables,EbIpTables").Split(',').Select(Enum.Parse<FirewallBackendKind>).ToList();
        if (Environment.UserName != "root")
        {
            Console.Error.WriteLine("the dataplane scenario needs root (it builds network namespaces)");
            return 3;
        }
        if (n < 2)
        {
            Console.Error.WriteLine("n must be at least 2 (the first- and the last-bound port)");
            return 2;
        }
        var id = $"nwfdp{Environment.ProcessId}";
        var state = Path.Combine(Path.GetTempPath(), id);
        var configs = new[] { "none" }.Concat(backends.Select(b => b.ToString())).ToList();
        var labs = configs.Select((c, i) => new Lab(c, $"{id}{i}-h", $"{id}{i}-a", $"{id}{i}-z", $"{id}{i}-r")).ToList();
        Console.WriteLine($"dataplane: {n} ports per bridge, {runs} rounds of {seconds} s per measurement, {Measure.Machine}; load {Load()} at start");
        var results = new List<(int Run, string Config, string Port, string Test, double Value)>();
        try
        {
            foreach (var lab in labs)
            {
                var clock = Stopwatch.StartNew();
                Build(n, lab);
                var built = clock.Elapsed;
                if (lab.Config != "none")
                {
                    var manager = new BindingManager(new BindingManagerOptions
                    {
                        NetworkNamespace = lab.Host,
                        Filters = new InMemoryFilterSource(BuiltInFilters.All),
                        Store = new BindingStore(Path.Combine(state, lab.Config, "bindings"), lab.Host),
                    });
                    clock.Restart();
                    Bind(manager, n, Enum.Parse<FirewallBackendKind>(lab.Config));
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{lab.Config}: bridge of {n} ports built in {built.TotalSeconds:F1} s{(lab.Config == "none" ? "" : $", {n} clean-traffic bindings in {clock.Elapsed.TotalSeconds:F1} s")}"));
                foreach (var ns in new[] { lab.First, lab.Last })
                {
                    Check(Runner.RunAsync(NetworkNamespace.Wrap(new ProcessRequest("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.100"), ns)).GetAwaiter().GetResult(),
                        $"{lab.Config}: ping from {ns}");
                }
            }
            // Each round measures every (port, test) on every configuration back to back, so each ratio compares
            // measurements seconds apart (the load of a shared machine drifts over minutes).
            for (var run = 1; run <= runs; run++)
            {
                foreach (var label in new[] { "first", "last" })
                {
                    foreach (var udp in new[] { true, false })
                    {
                        var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"round {run} {label,-5} {(udp ? "UDP 64-byte packets/s" : "TCP Gbit/s"),-21}"));
                        // The order rotates with the round, so no configuration always goes first.
                        foreach (var lab in labs.Skip((run - 1) % labs.Count).Concat(labs.Take((run - 1) % labs.Count)))
                        {
                            var value = Iperf(label == "first" ? lab.First : lab.Last, lab.Receiver, seconds, udp);
                            results.Add((run, lab.Config, label, udp ? "udp" : "tcp", value));
                            line.Append(string.Create(CultureInfo.InvariantCulture, $"  {lab.Config} {(udp ? value.ToString("N0", CultureInfo.InvariantCulture) : (value / 1e9).ToString("F2", CultureInfo.InvariantCulture))}"));
                        }
                        Console.WriteLine(line);
                    }
                }
            }
            Console.WriteLine($"load {Load()} at the end");
            Console.WriteLine();
            Console.WriteLine("| backend | port | UDP 64-byte, ratio to unfiltered: median (per round) | UDP packets/s filtered / unfiltered (medians) | TCP ratio: median (per round) | TCP Gbit/s filtered / unfiltered (medians) |");
            Console.WriteLine("|---|---|---|---|---|---|");
            foreach (var backend in backends.Select(b => b.ToString()))
            {
                foreach (var label in new[] { "first", "last" })
                {
                    string Row(string test, Func<double, string> format)
                    {
                        var ratios = Enumerable.Range(1, runs).Select(r => Value(results, r, backend, label, test) / Value(results, r, "none", label, test)).ToList();
                        var filtered = Enumerable.Range(1, runs).Select(r => Value(results, r, backend, label, test)).ToList();
                        var none = Enumerable.Range(1, runs).Select(r => Value(results, r, "none", label, test)).ToList();
                        return string.Create(CultureInfo.InvariantCulture,
                            $"{Median(ratios):F2} ({string.Join(", ", ratios.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))}) | {format(Median(filtered))} / {format(Median(none))}");
                    }
                    Console.WriteLine($"| {backend} | {label}-bound | {Row("udp", v => v.ToString("N0", CultureInfo.InvariantCulture))} | {Row("tcp", v => (v / 1e9).ToString("F2", CultureInfo.InvariantCulture))} |");
                }
            }
            return 0;
        }
        finally
        {
            foreach (var ns in labs.SelectMany(l => new[] { l.First, l.Last, l.Receiver, l.Host }))
            {
                Runner.RunAsync(new ProcessRequest("ip", "netns", "delete", ns)).GetAwaiter().GetResult();
            }
            if (Directory.Exists(state))
            {
                Directory.Delete(state, recursive: true);
            }
        }
    }

    /// <summary>One configuration's namespaces: the bridge's, the first- and last-bound ports' VMs, the receiver.</summary>
    private sealed record Lab(string Config, string Host, string First, string Last, string Receiver);

    private static double Value(List<(int Run, string Config, string Port, string Test, double Value)> results, int run, string config, string port, string test) =>
        results.Single(r => r.Run == run && r.Config == config && r.Port == port && r.Test == test).Value;

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ').Take(3).Aggregate((a, b) => a + " " + b);

    /// <summary>The namespaces: a bridge with N ports in the host one; the first and last lead to VM namespaces, one more port to the receiver.</summary>
    private static void Build(int n, Lab lab)
    {
        var (host, first, last, receiver) = (lab.Host, lab.First, lab.Last, lab.Receiver);
        Ip(null, string.Concat(new[] { host, first, last, receiver }.Select(ns => $"netns add {ns}\n")));
        var links = new StringBuilder("link set lo up\nlink add br0 type bridge stp_state 0 forward_delay 0\nlink set br0 up\n");
        for (var i = 0; i < n; i++)
        {
            var vm = i == 0 ? first : i == n - 1 ? last : null;
            links.Append(vm is null
                ? string.Create(CultureInfo.InvariantCulture, $"link add vnet{i} type veth peer name peer{i}\n")
                : string.Create(CultureInfo.InvariantCulture, $"link add vnet{i} type veth peer name eth0 netns {vm}\n"));
            links.Append(CultureInfo.InvariantCulture, $"link set vnet{i} master br0\nlink set vnet{i} up\n");
        }
        links.Append(CultureInfo.InvariantCulture, $"link add rcv type veth peer name eth0 netns {receiver}\nlink set rcv master br0\nlink set rcv up\n");
        Ip(host, links.ToString());
        foreach (var (ns, mac, ip) in new[] { (first, Mac(0), "10.77.0.1"), (last, Mac(n - 1), "10.77.0.2"), (receiver, "52:54:00:ff:00:64", "10.77.0.100") })
        {
            Ip(ns, $"link set lo up\nlink set eth0 address {mac}\naddr add {ip}/24 dev eth0\nlink set eth0 up\n");
        }
        Check(Runner.RunAsync(NetworkNamespace.Wrap(new ProcessRequest("sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1"), host))
            .GetAwaiter().GetResult(), "enabling bridge netfilter");
    }

    private static string Mac(int i) => $"52:54:00:{(i >> 16) & 255:x2}:{(i >> 8) & 255:x2}:{i & 255:x2}";

    private static string Address(int i, int n) => i == 0 ? "10.77.0.1" : i == n - 1 ? "10.77.0.2" : $"10.78.{i >> 8}.{i & 255}";

    /// <summary>N clean-traffic bindings: the first port alone, the middle ones in one batch, the last alone (the bind order).</summary>
    private static void Bind(BindingManager manager, int n, FirewallBackendKind backend)
    {
        FilterBinding Binding(int i) => new($"vnet{i}", PhysicalAddress.Parse(Mac(i).Replace(':', '-').ToUpperInvariant()), "clean-traffic")
        {
            OwnerName = $"vm{i}",
            Backend = backend,
            Parameters = ParameterSet.Empty.With("IP", Address(i, n)),
        };
        foreach (var batch in new[] { [Binding(0)], Enumerable.Range(1, n - 2).Select(Binding).ToList(), [Binding(n - 1)] })
        {
            if (batch.Count == 0)
            {
                continue;
            }
            var result = manager.ApplyAsync(batch).GetAwaiter().GetResult();
            if (result.Failed.FirstOrDefault() is { } failed)
            {
                throw new InvalidOperationException($"{backend} bind {failed.PortDevice}: {failed.Error?.Message}");
            }
        }
    }

    /// <summary>One iperf3 measurement from <paramref name="ns"/> to the receiver: UDP received packets/s, or TCP received bits/s.</summary>
    private static double Iperf(string ns, string receiver, int seconds, bool udp)
    {
        var port = 5201 + Random.Shared.Next(1000);
        using var server = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", receiver, "iperf3", "-s", "-1", "-p", port.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            Thread.Sleep(300);
            string[] client = udp
                ? ["iperf3", "-c", "10.77.0.100", "-p", port.ToString(CultureInfo.InvariantCulture), "-u", "-b", "0", "-l", "18", "-t", seconds.ToString(CultureInfo.InvariantCulture), "-J"]
                : ["iperf3", "-c", "10.77.0.100", "-p", port.ToString(CultureInfo.InvariantCulture), "-t", seconds.ToString(CultureInfo.InvariantCulture), "-J"];
            var result = Runner.RunAsync(NetworkNamespace.Wrap(new ProcessRequest(client[0], client[1..]) { Timeout = TimeSpan.FromSeconds(seconds + 30) }, ns)).GetAwaiter().GetResult();
            Check(result, $"iperf3 {(udp ? "UDP" : "TCP")} from {ns}");
            using var json = JsonDocument.Parse(result.StandardOutput);
            var end = json.RootElement.GetProperty("end");
            if (udp)
            {
                var sum = end.GetProperty("sum");
                var received = sum.GetProperty("packets").GetDouble() - sum.GetProperty("lost_packets").GetDouble();
                return received / sum.GetProperty("seconds").GetDouble();
            }
            return end.GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
        }
        finally
        {
            if (!server.WaitForExit(5000))
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    private static void Ip(string? ns, string input) =>
        Check(Runner.RunAsync(new ProcessRequest("ip", ns is null ? ["-batch", "-"] : ["-n", ns, "-batch", "-"]) { StandardInput = input, Timeout = TimeSpan.FromMinutes(5) })
            .GetAwaiter().GetResult(), "ip -batch");

    private static void Check(ProcessResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"{what} failed (exit {result.ExitCode}): {result.StandardError.Trim()} {result.StandardOutput.Trim()}");
        }
    }
}
