using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// The drift check (Test-NwFilterBinding's <see cref="BindingManager.TestAsync"/>) over N bindings (root): in a throw-away
/// namespace, N bindings of a filter with Ethernet and layer-4 rules (clean-traffic and a TCP rule, so nftables ports
/// carry the mark) applied in one batch; the first check (it applies every binding in a scratch namespace once), then
/// repeated checks (one read of the kernel's rules per backend, compared in memory), then one rule deleted behind
/// NwFilter's back (exactly one port must drift). Every check must find the N ports InSync.
/// </summary>
public sealed class DriftScenario : IScenario
{
    private const string Wrapper = "bench-drift";

    public string Name => "drift";

    public string Description => "(root) Test-NwFilterBinding over N bindings: drift [backend=Nftables|EbIpTables] [N=1000] [rounds=5]";

    public int Run(string[] args)
    {
        var backend = args.Where(a => a.StartsWith("backend=", StringComparison.OrdinalIgnoreCase))
            .Select(a => Enum.Parse<FirewallBackendKind>(a["backend=".Length..], ignoreCase: true)).DefaultIfEmpty(FirewallBackendKind.Nftables).Last();
        var rounds = args.Where(a => a.StartsWith("rounds=", StringComparison.OrdinalIgnoreCase)).Select(a => int.Parse(a[7..], CultureInfo.InvariantCulture)).DefaultIfEmpty(5).Last();
        var n = args.Where(a => !a.Contains('=')).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).DefaultIfEmpty(1000).Last();
        var ns = string.Create(CultureInfo.InvariantCulture, $"nwfbench-drift-{Environment.ProcessId}");
        var state = Path.Combine(Path.GetTempPath(), ns);
        Console.WriteLine($"drift check over {n} bindings ({Wrapper}: clean-traffic + a tcp rule), backend {backend}; {Measure.Machine}");
        try
        {
            Run(ProcessRunner.Default, n, ns, state, backend, rounds);
        }
        finally
        {
            ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "netns", "delete", ns)).GetAwaiter().GetResult();
            if (Directory.Exists(state))
            {
                Directory.Delete(state, recursive: true);
            }
        }
        return 0;
    }

    private static void Run(IProcessRunner runner, int n, string ns, string state, FirewallBackendKind backend, int rounds)
    {
        runner.RunAsync(new ProcessRequest("ip", "netns", "add", ns)).GetAwaiter().GetResult().EnsureSuccess();
        var wrapper = NwFilterXmlReader.ReadFilter($"<filter name='{Wrapper}'><filterref filter='clean-traffic'/>" +
            "<rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>").Value!;
        var manager = new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = ns,
            Filters = new InMemoryFilterSource([.. BuiltInFilters.All, wrapper]),
            Store = new BindingStore(Path.Combine(state, "bindings"), ns),
        });
        var bindings = Enumerable.Range(0, n).Select(i => new FilterBinding(
            $"vnet{i}", new PhysicalAddress([0x52, 0x54, 0x00, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), Wrapper)
        {
            OwnerName = $"vm{i}",
            Backend = backend,
            Parameters = ParameterSet.Empty.With("IP", string.Create(CultureInfo.InvariantCulture, $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")),
        }).ToList();
        // Half in one batch, the other half in reverse order one batch at a time of 50: the ports' ids differ from a fresh batch's.
        var clock = Stopwatch.StartNew();
        Check(manager.ApplyAsync(bindings[..(n / 2)]).GetAwaiter().GetResult());
        foreach (var chunk in bindings[(n / 2)..].AsEnumerable().Reverse().Chunk(50))
        {
            Check(manager.ApplyAsync(chunk).GetAwaiter().GetResult());
        }
        Console.WriteLine($"applied {n} bindings in {Ms(clock.Elapsed)}");

        clock.Restart();
        InSync(manager.TestAsync().GetAwaiter().GetResult(), n);
        var cold = clock.Elapsed;
        var warm = new List<TimeSpan>();
        for (var r = 0; r < rounds; r++)
        {
            clock.Restart();
            InSync(manager.TestAsync().GetAwaiter().GetResult(), n);
            warm.Add(clock.Elapsed);
        }
        warm.Sort();
        // The floor: the tools' own listing of the same rules, alone (what one check must read), median of the rounds.
        var raw = new List<TimeSpan>();
        for (var r = 0; r < rounds; r++)
        {
            clock.Restart();
            var tools = backend == FirewallBackendKind.Nftables
                ? new[] { new[] { "nft", "list", "ruleset" } }
                : [["ebtables-save", "-t", "nat"], ["iptables-save", "-t", "filter"], ["ip6tables-save", "-t", "filter"]];
            Task.WaitAll([.. tools.Select(t => runner.RunAsync(new ProcessRequest("ip", ["netns", "exec", ns, .. t]) { Timeout = TimeSpan.FromMinutes(2) }))]);
            raw.Add(clock.Elapsed);
        }
        raw.Sort();

        // One rule goes behind NwFilter's back: exactly that port drifts.
        var port = $"vnet{n / 3}";
        if (backend == FirewallBackendKind.Nftables)
        {
            var listing = runner.RunAsync(new ProcessRequest("ip", "netns", "exec", ns, "nft", "-a", "list", "table", "bridge", "nwfilter")).GetAwaiter().GetResult().EnsureSuccess().StandardOutput
                .Split('\n').Select(l => l.Trim()).ToList();
            var at = listing.FindIndex(l => l.StartsWith($"chain {port}/", StringComparison.Ordinal) && l.Split(' ')[1].EndsWith("/I", StringComparison.Ordinal));
            var chain = listing[at].Split(' ')[1];
            var rule = listing.Skip(at + 1).First(l => l.Contains("# handle ", StringComparison.Ordinal));
            var handle = rule[(rule.LastIndexOf(' ') + 1)..];
            runner.RunAsync(new ProcessRequest("ip", "netns", "exec", ns, "nft", "delete", "rule", "bridge", "nwfilter", chain, "handle", handle)).GetAwaiter().GetResult().EnsureSuccess();
        }
        else
        {
            runner.RunAsync(new ProcessRequest("ip", "netns", "exec", ns, "ebtables", "-t", "nat", "-D", $"I-{port}-mac", "-j", "DROP")).GetAwaiter().GetResult().EnsureSuccess();
        }
        clock.Restart();
        var drift = manager.TestAsync().GetAwaiter().GetResult();
        var broken = clock.Elapsed;
        var drifted = drift.Where(d => d.Status != BindingDriftStatus.InSync).Select(d => d.PortDevice).ToList();
        if (drifted.Count != 1 || drifted[0] != port)
        {
            throw new InvalidOperationException($"expected only {port} to drift, got [{string.Join(", ", drifted)}]");
        }
        Console.WriteLine("| bindings | backend | first check (scratch apply) | repeat check, median of " + rounds + " (min-max) | the tools' listing alone (median) | after a rule deleted (1 port drifted) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {n:N0} | {backend} | {Ms(cold)} | {Ms(warm[warm.Count / 2])} ({Ms(warm[0])}-{Ms(warm[^1])}) | {Ms(raw[raw.Count / 2])} | {Ms(broken)} |"));
        Check(manager.RemoveAsync([.. bindings.Select(b => b.PortDevice)]).GetAwaiter().GetResult());
    }

    private static void InSync(IReadOnlyList<BindingDrift> drift, int n)
    {
        var wrong = drift.Where(d => d.Status != BindingDriftStatus.InSync).ToList();
        if (drift.Count != n || wrong.Count > 0)
        {
            throw new InvalidOperationException($"{drift.Count} reports, {wrong.Count} not InSync: " +
                string.Join("; ", wrong.Take(3).Select(d => $"{d.PortDevice} {d.Status} missing [{string.Join(" | ", d.MissingRules)}] unexpected [{string.Join(" | ", d.UnexpectedRules)}]")));
        }
    }

    private static BindingBatchResult Check(BindingBatchResult result) =>
        result.Failed.FirstOrDefault() is { } failed ? throw new InvalidOperationException($"{failed.PortDevice}: {failed.Error!.Message}") : result;

    private static string Ms(TimeSpan t) => t.TotalSeconds >= 1 ? t.TotalSeconds.ToString("0.00 's'", CultureInfo.InvariantCulture) : t.TotalMilliseconds.ToString("0 'ms'", CultureInfo.InvariantCulture);
}
