using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using System.Text;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// Drift repair by itself (root): in a throw-away namespace with a bridge and N veth ports, N clean-traffic bindings
/// under the runtime's service (what <c>Restore-NwFilterBinding -Wait</c> and nwfilterd run); each round flushes the
/// firewall behind its back (<c>nft flush ruleset</c>; on EbIpTables <c>ebtables -t nat -F</c> and <c>iptables -F</c>)
/// and times from the flush command's exit to the service's DriftRepaired event (every port's rules committed again),
/// with the service's own split (check, re-apply). Every round must repair all N ports, once.
/// </summary>
public sealed class HealScenario : IScenario
{
    public string Name => "heal";

    public string Description => "(root) flush behind the service's back, time until every port is filtered again: heal [backend=Nftables|EbIpTables] [N=100] [rounds=5]";

    public int Run(string[] args)
    {
        var backend = args.Where(a => a.StartsWith("backend=", StringComparison.OrdinalIgnoreCase))
            .Select(a => Enum.Parse<FirewallBackendKind>(a["backend=".Length..], ignoreCase: true)).DefaultIfEmpty(FirewallBackendKind.Nftables).Last();
        var rounds = args.Where(a => a.StartsWith("rounds=", StringComparison.OrdinalIgnoreCase)).Select(a => int.Parse(a[7..], CultureInfo.InvariantCulture)).DefaultIfEmpty(5).Last();
        var n = args.Where(a => !a.Contains('=')).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).DefaultIfEmpty(100).Last();
        var ns = string.Create(CultureInfo.InvariantCulture, $"nwfbench-heal-{Environment.ProcessId}");
        var state = Path.Combine(Path.GetTempPath(), ns);
        Console.WriteLine($"flush and heal, {n} clean-traffic bindings, backend {backend}; {Measure.Machine}");
        try
        {
            RunAsync(n, ns, state, backend, rounds).GetAwaiter().GetResult();
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

    private static async Task RunAsync(int n, string ns, string state, FirewallBackendKind backend, int rounds)
    {
        var runner = ProcessRunner.Default;
        (await runner.RunAsync(new ProcessRequest("ip", "netns", "add", ns))).EnsureSuccess();
        var links = new StringBuilder("link set lo up\nlink add br0 type bridge\nlink set br0 up\n");
        for (var i = 0; i < n; i++)
        {
            links.Append(CultureInfo.InvariantCulture, $"link add vnet{i} type veth peer name peer{i}\nlink set vnet{i} master br0\nlink set vnet{i} up\n");
        }
        (await runner.RunAsync(new ProcessRequest("ip", "-n", ns, "-batch", "-") { StandardInput = links.ToString(), Timeout = TimeSpan.FromMinutes(5) })).EnsureSuccess();
        await using var runtime = new NwFilterRuntime(new NwFilterRuntimeOptions
        {
            Location = new StoreLocation(Path.Combine(state, "config"), Path.Combine(state, "state")),
            DefaultNamespace = ns,
        });
        var bindings = Enumerable.Range(0, n).Select(i => new FilterBinding(
            $"vnet{i}", new PhysicalAddress([0x52, 0x54, 0x00, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), "clean-traffic")
        {
            OwnerName = $"vm{i}",
            Backend = backend,
            Parameters = ParameterSet.Empty.With("IP", string.Create(CultureInfo.InvariantCulture, $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")),
        }).ToList();
        var applied = await runtime.Manager(ns).ApplyAsync(bindings);
        if (applied.Failed.FirstOrDefault() is { } failed)
        {
            throw new InvalidOperationException($"{failed.PortDevice}: {failed.Error!.Message}");
        }
        var host = new Host();
        using var stop = new CancellationTokenSource();
        var service = runtime.HandleAsync(new LearningServiceRequest(ns), host, stop.Token);
        await host.WaitAsync(RuntimeEventIds.DriftRepairStarted, 0);
        await Task.Delay(500); // the watch subscribes as it starts

        string[][] flush = backend == FirewallBackendKind.Nftables
            ? [["nft", "flush", "ruleset"]]
            : [["ebtables", "-t", "nat", "-F"], ["iptables", "-F"]];
        var results = new List<(TimeSpan Healed, string Message)>();
        for (var r = 0; r < rounds; r++)
        {
            var before = host.Count(RuntimeEventIds.DriftRepaired);
            foreach (var command in flush)
            {
                (await runner.RunAsync(new ProcessRequest("ip", ["netns", "exec", ns, .. command]))).EnsureSuccess();
            }
            var flushed = host.Now;
            var repaired = await host.WaitAsync(RuntimeEventIds.DriftRepaired, before);
            if (!repaired.Event.Message.Contains($"Repaired {n} port(s)", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("not every port repaired: " + repaired.Event.Message);
            }
            results.Add((repaired.At - flushed, repaired.Event.Message));
            await Task.Delay(1500); // the checks its own repair causes find nothing: no second repair
            if (host.Count(RuntimeEventIds.DriftRepaired) != before + 1)
            {
                throw new InvalidOperationException("repaired more than once after one flush");
            }
        }
        await stop.CancelAsync();
        await service;
        var sorted = results.OrderBy(x => x.Healed).ToList();
        Console.WriteLine($"| bindings | backend | flush to every port filtered again, median of {rounds} (min-max) | the service's split (median round) |");
        Console.WriteLine("|---|---|---|---|");
        var median = sorted[sorted.Count / 2];
        var end = median.Message.IndexOf("):", StringComparison.Ordinal);
        var split = median.Message[(median.Message.LastIndexOf(" in ", end, StringComparison.Ordinal) + 4)..end];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {n:N0} | {backend} | {median.Healed.TotalMilliseconds:0} ms ({sorted[0].Healed.TotalMilliseconds:0}-{sorted[^1].Healed.TotalMilliseconds:0} ms) | {split}) |"));
    }

    private sealed class Host : IRuntimeHost
    {
        private readonly long _start = Stopwatch.GetTimestamp();
        private readonly ConcurrentQueue<(TimeSpan At, RuntimeEvent Event)> _events = new();

        public TimeSpan Now => Stopwatch.GetElapsedTime(_start);

        public int Count(string id) => _events.Count(e => e.Event.Id == id);

        public async Task<(TimeSpan At, RuntimeEvent Event)> WaitAsync(string id, int skip)
        {
            for (var i = 0; i < 3000; i++)
            {
                var hits = _events.Where(e => e.Event.Id == id).ToList();
                if (hits.Count > skip)
                {
                    return hits[skip];
                }
                await Task.Delay(10);
            }
            throw new TimeoutException($"no {id} event; events: {string.Join(" | ", _events.Select(e => e.Event.Id + ": " + e.Event.Message))}");
        }

        public void Report(RuntimeEvent runtimeEvent)
        {
            if (runtimeEvent.Level == RuntimeEventLevel.Error)
            {
                Console.Error.WriteLine($"{runtimeEvent.Id}: {runtimeEvent.Message}");
            }
            _events.Enqueue((Now, runtimeEvent));
        }

        public void Progress(RuntimeProgress progress)
        {
        }

        public void LearnerStarted(LearnerStarted started)
        {
        }

        public bool Confirm(ConfirmationRequest request) => true;
    }
}
