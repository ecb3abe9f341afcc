using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using System.Text;
using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// The memory and threads of a process that learns (root): in a throw-away namespace with a bridge and N veth ports,
/// one binding manager with an IP learner registry (the real libpcap capture, as the learning service and nwfilterd
/// run it) applies N - L clean-traffic bindings with their IP, then L that learn in dhcp mode (each a learner with an
/// open capture); the process's RSS and thread count (/proc/self/status) after each step.
/// </summary>
public sealed class LearningMemoryScenario : IScenario
{
    public string Name => "learnmem";

    public string Description => "(root) RSS and threads with N bindings of which L learn: learnmem [backend=Nftables|EbIpTables] [n=1000] [learning=100]";

    public int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.FirstOrDefault(a => a.StartsWith(name + "=", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..] ?? fallback;
        var backend = Enum.Parse<FirewallBackendKind>(Arg("backend", "Nftables"), ignoreCase: true);
        var n = int.Parse(Arg("n", "1000"), CultureInfo.InvariantCulture);
        var learning = int.Parse(Arg("learning", "100"), CultureInfo.InvariantCulture);
        var ns = string.Create(CultureInfo.InvariantCulture, $"nwfbench-l-{Environment.ProcessId}");
        var state = Path.Combine(Path.GetTempPath(), ns);
        try
        {
            return RunAsync(n, learning, ns, state, backend).GetAwaiter().GetResult();
        }
        finally
        {
            ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "netns", "delete", ns)).GetAwaiter().GetResult();
            if (Directory.Exists(state))
            {
                Directory.Delete(state, recursive: true);
            }
        }
    }

    private static async Task<int> RunAsync(int n, int learning, string ns, string state, FirewallBackendKind backend)
    {
        Console.WriteLine($"learning memory: {n} clean-traffic bindings, {learning} of them learning (dhcp), backend {backend}; {Measure.Machine}");
        Ip(null, $"netns add {ns}\n");
        var links = new StringBuilder("link set lo up\nlink add br0 type bridge\nlink set br0 up\n");
        for (var i = 0; i < n; i++)
        {
            links.Append(CultureInfo.InvariantCulture, $"link add vnet{i} type veth peer name peer{i}\nlink set vnet{i} master br0\nlink set vnet{i} up\nlink set peer{i} up\n");
        }
        Ip(ns, links.ToString());

        await using var learners = new IpLearnerRegistry(new LeaseStore(Path.Combine(state, "leases")));
        var manager = new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = ns,
            Filters = new InMemoryFilterSource(BuiltInFilters.All),
            Store = new BindingStore(Path.Combine(state, "bindings"), ns),
            Learners = learners,
        });
        FilterBinding Binding(int i, bool learns) => new(
            $"vnet{i}", new PhysicalAddress([0x52, 0x54, 0x00, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), "clean-traffic")
        {
            OwnerName = $"vm{i}",
            Backend = backend,
            Parameters = learns
                ? ParameterSet.Empty.With("CTRL_IP_LEARNING", "dhcp")
                : ParameterSet.Empty.With("IP", string.Create(CultureInfo.InvariantCulture, $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")),
        };

        Report("start (runtime loaded, no binding)");
        var plain = Enumerable.Range(0, n - learning).Select(i => Binding(i, false)).ToList();
        Check(await manager.ApplyAsync(plain));
        Report($"{n - learning} bindings with their IP");
        var clock = Stopwatch.StartNew();
        var learned = Check(await manager.ApplyAsync([.. Enumerable.Range(n - learning, learning).Select(i => Binding(i, true))]));
        clock.Stop();
        var listening = learned.Items.Count(i => i.Learner is not null);
        if (listening != learning)
        {
            throw new InvalidOperationException($"{listening} of {learning} learners started");
        }
        await Task.Delay(2000); // the captures settle
        Report($"+ {learning} learning ({clock.Elapsed.TotalSeconds:0.00} s to apply and open the captures)");
        Check(await manager.RemoveAsync([.. Enumerable.Range(0, n).Select(i => $"vnet{i}")]));
        return 0;
    }

    private static (long RssKiB, int Threads) Status()
    {
        long rss = 0;
        var threads = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line[8..].Trim(), CultureInfo.InvariantCulture);
            }
        }
        return (rss, threads);
    }

    private static void Report(string step)
    {
        var (rss, threads) = Status();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {step} | RSS {rss / 1024.0:0.0} MiB | {threads} threads | managed heap {GC.GetTotalMemory(false) / 1048576.0:0.0} MiB |"));
    }

    private static BindingBatchResult Check(BindingBatchResult result) =>
        result.Failed.FirstOrDefault() is { } failed ? throw new InvalidOperationException($"{failed.PortDevice}: {failed.Error!.Message}") : result;

    private static void Ip(string? ns, string batch)
    {
        string[] args = ns is null ? ["-batch", "-"] : ["-n", ns, "-batch", "-"];
        ProcessRunner.Default.RunAsync(new ProcessRequest("ip", args) { StandardInput = batch, Timeout = TimeSpan.FromMinutes(5) }).GetAwaiter().GetResult().EnsureSuccess();
    }
}
