using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// The path a cmdlet session or nwfilterd takes (<see cref="NwFilterRuntime"/> with its request records, no pwsh, no
/// socket), on the real kernel in a throw-away namespace (nwfbench-rt-PID: a bridge and N veth ports from one
/// <c>ip -batch</c>), with a store of its own: N clean-traffic nftables bindings (IP and MAC given) in one request, then
/// that very ruleset dumped, flushed and loaded by one raw <c>nft -f</c> (same run); then single changes with N loaded
/// (one binding re-applied with another IP, one request each), with where the time goes: every process the runtime
/// launched (program and wall time) and the store and compile steps timed alone; then the live update of a filter all
/// N use (one request) against a raw <c>nft -f</c> of the script it committed. Needs root.
/// </summary>
public sealed class RuntimeScenario : IScenario
{
    public string Name => "runtime";

    public string Description => "the runtime's request path on the kernel (root): runtime [n=1000] [singles=30] [backend=Nftables|EbIpTables] [runner=process] [batch=on|off]";

    public int Run(string[] args)
    {
        var n = int.Parse(Arg(args, "n=") ?? "1000", CultureInfo.InvariantCulture);
        var singles = int.Parse(Arg(args, "singles=") ?? "30", CultureInfo.InvariantCulture);
        var backend = Enum.Parse<FirewallBackendKind>(Arg(args, "backend=") ?? "Nftables");
        var processes = Arg(args, "runner=") == "process";
        // batch=on: per-port scripts go as our own netlink batch; batch=off: through libnftables (its chain cache); else NWFILTER_NFT_BATCH decides.
        if (Arg(args, "batch=") is { } batch)
        {
            Core.Backends.Nftables.Kernel.HeldNftablesContext.NetlinkBatch = batch == "on";
        }
        if (!StoreLocation.IsRoot)
        {
            Console.Error.WriteLine("the runtime scenario needs root (it builds a network namespace)");
            return 3;
        }
        return RunAsync(n, singles, backend, processes).GetAwaiter().GetResult();
    }

    private static string? Arg(string[] args, string prefix) => args.FirstOrDefault(a => a.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..];

    private static async Task<int> RunAsync(int n, int singles, FirewallBackendKind backend, bool processes)
    {
        var ns = $"nwfbench-rt-{Environment.ProcessId}";
        var dir = Path.Combine(Path.GetTempPath(), $"nwfbench-rt-{Environment.ProcessId}");
        var host = ProcessRunner.Default;
        try
        {
            Exec(host, "ip", "netns", "add", ns);
            var batch = new System.Text.StringBuilder("link set lo up\nlink add br0 type bridge stp_state 0 forward_delay 0\nlink set br0 up\n");
            for (var i = 0; i < n; i++)
            {
                batch.Append(CultureInfo.InvariantCulture, $"link add vnet{i} type veth peer name peer{i}\nlink set vnet{i} master br0\nlink set vnet{i} up\n");
            }
            (await host.RunAsync(new ProcessRequest("ip", "-n", ns, "-batch", "-") { StandardInput = batch.ToString(), Timeout = TimeSpan.FromMinutes(5) })).EnsureSuccess();
            var runner = new TimingRunner(host);
            var location = new StoreLocation(Path.Combine(dir, "config"), Path.Combine(dir, "state"));
            // The real runner lets the runtime hold its libnftables context; the timing one (runner=process) records every process.
            await using var runtime = new NwFilterRuntime(new NwFilterRuntimeOptions { Location = location, DefaultNamespace = ns, Runner = processes ? runner : null });
            var silent = SilentRuntimeHost.Instance;
            Console.WriteLine($"runtime scenario, {backend}, {n} ports in {ns}, held nftables context: {runtime.Manager(ns).HoldsNftablesContext}; {Measure.Machine}; load {Load()}");

            // The bindings use a filter of the store's own that references clean-traffic, so that the live update below
            // (one rule added to it) re-applies all N.
            Check(await runtime.HandleAsync(new DefineFiltersRequest([Wrapper(extraRule: false)]), silent));
            var bindings = Enumerable.Range(0, n).Select(i => Binding(i, 0, backend)).ToList();
            var clock = Stopwatch.StartNew();
            BindingsResponse created;
            IReadOnlyList<(string Step, TimeSpan Time)> parts;
            using (var recording = Core.Diagnostics.PhaseTimings.Start())
            {
                created = await runtime.HandleAsync(new ApplyBindingsRequest(bindings), silent);
                parts = recording.Steps;
            }
            var createAll = clock.Elapsed;
            Check(created);
            Console.WriteLine($"{n} bindings in one request: {Ms(createAll)} ({created.Execution!.ProcessLaunches} processes, firewall part {Ms(created.Execution.Elapsed)})");
            PrintParts(parts);
            if (backend == FirewallBackendKind.Nftables)
            {
                var raw = await RawNftAsync(host, ns);
                Console.WriteLine($"  raw nft -f of that ruleset ({raw.Lines:N0} lines, dumped, flushed, loaded): {Ms(raw.Load)}; ratio {createAll / raw.Load:0.00}x");
                // Put NwFilter's own state back exactly (the raw load made the same tables).
                Check(await runtime.HandleAsync(new RestoreBindingsRequest(), silent));
            }

            // One binding's change with N loaded: the port n/2 gets another IP each time.
            var manager = runtime.Manager(ns);
            var times = new List<double>();
            var launches = new ConcurrentDictionary<string, List<double>>();
            var singleParts = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            for (var k = 1; k <= singles; k++)
            {
                runner.Reset();
                clock.Restart();
                using (var recording = Core.Diagnostics.PhaseTimings.Start())
                {
                    Check(await runtime.HandleAsync(new ApplyBindingsRequest([Binding(n / 2, k, backend)]), silent));
                    times.Add(clock.Elapsed.TotalMilliseconds);
                    foreach (var (step, time) in recording.Steps)
                    {
                        (singleParts.TryGetValue(step, out var list) ? list : singleParts[step] = []).Add(time.TotalMilliseconds);
                    }
                }
                foreach (var (what, ms) in runner.Calls)
                {
                    launches.GetOrAdd(what, _ => []).Add(ms);
                }
            }
            Console.WriteLine($"one binding's change with {n} loaded ({singles} requests): {Stats(times)}; netlink batches so far {Core.Backends.Nftables.Kernel.HeldNftablesContext.BatchCounts}");
            foreach (var (step, list) in singleParts)
            {
                Console.WriteLine($"  part {step}: {Stats(list)}");
            }
            foreach (var (what, ms) in launches.OrderByDescending(kv => kv.Value.Sum()))
            {
                Console.WriteLine($"  process {what}: {ms.Count / (double)singles:0.#} per change, {Stats(ms)}");
            }
            // The same change one layer down each time: the binding manager (no runtime checks), the applier alone (no store).
            var managerTimes = new List<double>();
            var applierTimes = new List<double>();
            var applier = Core.Backends.Nftables.NftablesBackend.Applier(manager.HostRunner);
            for (var k = 1; k <= singles; k++)
            {
                clock.Restart();
                var r = await manager.ApplyAsync([Binding(n / 2, k, backend)]);
                managerTimes.Add(clock.Elapsed.TotalMilliseconds);
                if (!r.Items[0].Succeeded)
                {
                    throw new InvalidOperationException(r.Items[0].Error!.Message);
                }
                if (backend == FirewallBackendKind.Nftables && manager.HoldsNftablesContext)
                {
                    var ruleset = ((Core.Backends.Nftables.NftPortPlan)((Core.Backends.IFirewallBackend)Core.Backends.FirewallBackends.Get(backend))
                        .Compile($"vnet{n / 2}", manager.Compile(Binding(n / 2, k + 1, backend)))).Ruleset;
                    clock.Restart();
                    await applier.ApplyAsync([Core.Backends.Nftables.NftPortChange.Set(ruleset)]);
                    applierTimes.Add(clock.Elapsed.TotalMilliseconds);
                }
            }
            Console.WriteLine($"  the same through BindingManager.ApplyAsync: {Stats(managerTimes)}");
            if (applierTimes.Count > 0)
            {
                Console.WriteLine($"  the same through the held context's applier alone (no store, no runtime): {Stats(applierTimes)}");
            }
            Console.WriteLine($"  store: stat every file {Time(() => Directory.EnumerateFiles(manager.Store.Directory).Select(f => new FileInfo(f).Length).Sum(), 5)}, list {Time(() => manager.Store.List(), 5)}, save one {Time(() => manager.Store.SaveAll([Binding(n / 2, singles, backend)]), 5)}; compile one {Time(() => manager.Compile(Binding(n / 2, 1, backend)), 20)}");

            // A live update of a filter all N use: one request (define), every binding re-applied in one transaction.
            clock.Restart();
            DefineFiltersResponse update;
            using (var recording = Core.Diagnostics.PhaseTimings.Start())
            {
                update = await runtime.HandleAsync(new DefineFiltersRequest([Wrapper(extraRule: true)]), silent);
                parts = recording.Steps;
            }
            var updateTime = clock.Elapsed;
            Check(update);
            Console.WriteLine($"live update of the filter all {n} use (one define request): {Ms(updateTime)}");
            PrintParts(parts);
            if (backend == FirewallBackendKind.Nftables)
            {
                var raw = await RawNftAsync(host, ns);
                Console.WriteLine($"  raw nft -f of the ruleset after it ({raw.Lines:N0} lines): {Ms(raw.Load)}; ratio {updateTime / raw.Load:0.00}x (the update also removes the old generation)");
                Check(await runtime.HandleAsync(new RestoreBindingsRequest(), silent));
            }
            clock.Restart();
            await runtime.HandleAsync(new RemoveBindingsRequest([.. bindings.Select(b => b.PortDevice)]), silent);
            Console.WriteLine($"remove all {n}: {Ms(clock.Elapsed)}");
            return 0;
        }
        finally
        {
            await host.RunAsync(new ProcessRequest("ip", "netns", "delete", ns));
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static FilterBinding Binding(int i, int variant, FirewallBackendKind backend)
    {
        var mac = new PhysicalAddress([0x52, 0x54, 0x00, (byte)(i >> 16), (byte)(i >> 8), (byte)i]);
        var ip = $"10.{(variant * 16 + (i >> 16)) & 255}.{(i >> 8) & 255}.{i & 255}";
        return new FilterBinding($"vnet{i}", mac, WrapperName)
        {
            OwnerName = $"vm{i}", OwnerUuid = new Guid(i, 0, 0, new byte[8]), Parameters = ParameterSet.Empty.With("IP", ip), Backend = backend,
        };
    }

    private const string WrapperName = "bench-traffic";

    /// <summary>A filter that references clean-traffic; the update adds one rule (an ethertype dropped).</summary>
    private static FilterDefinition Wrapper(bool extraRule)
    {
        var extra = extraRule ? "<rule action='drop' direction='out' priority='-990'><mac protocolid='0x88b5'/></rule>" : "";
        return Core.Xml.NwFilterXmlReader.ReadFilter($"<filter name='{WrapperName}'><uuid>6c2b1b5e-2f0a-4c61-9f57-1f6b1d0c9a01</uuid><filterref filter='clean-traffic'/>{extra}</filter>").Value!;
    }

    /// <summary>The loaded ruleset dumped, every table flushed, the dump loaded by one <c>nft -f</c> (timed).</summary>
    internal static async Task<(TimeSpan Load, int Lines)> RawNftAsync(IProcessRunner host, string ns)
    {
        var dump = (await host.RunAsync(new ProcessRequest("ip", "netns", "exec", ns, "nft", "list", "ruleset") { Timeout = TimeSpan.FromMinutes(2) })).EnsureSuccess().StandardOutput;
        (await host.RunAsync(new ProcessRequest("ip", "netns", "exec", ns, "nft", "flush", "ruleset"))).EnsureSuccess();
        var path = Path.Combine(Path.GetTempPath(), $"nwfbench-raw-{Environment.ProcessId}.nft");
        await File.WriteAllTextAsync(path, dump);
        try
        {
            var clock = Stopwatch.StartNew();
            (await host.RunAsync(new ProcessRequest("ip", "netns", "exec", ns, "nft", "-f", path) { Timeout = TimeSpan.FromMinutes(5) })).EnsureSuccess();
            return (clock.Elapsed, dump.Count(c => c == '\n'));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Each step of a request (<see cref="Core.Diagnostics.PhaseTimings"/>) and what is left unmarked.</summary>
    private static void PrintParts(IReadOnlyList<(string Step, TimeSpan Time)> parts)
    {
        foreach (var (step, time) in parts.Where(p => p.Time.TotalMilliseconds >= 0.5))
        {
            Console.WriteLine($"  part {step}: {Ms(time)}");
        }
    }

    private static void Check(DefineFiltersResponse response)
    {
        if (!response.Succeeded)
        {
            throw new InvalidOperationException(response.Error?.Message ?? string.Join("; ", response.Items.Where(i => !i.Succeeded).Select(i => i.ToString())));
        }
    }

    private static void Check(BindingsResponse response)
    {
        if (!response.Succeeded)
        {
            throw new InvalidOperationException(string.Join("; ", response.Items.Where(i => !i.Succeeded).Take(3).Select(i => $"{i.PortDevice}: {i.Error!.Message}")));
        }
    }

    private static string Time(Action action, int rounds)
    {
        action();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < rounds; i++)
        {
            action();
        }
        return (clock.Elapsed.TotalMilliseconds / rounds).ToString("0.00", CultureInfo.InvariantCulture) + " ms";
    }

    internal static string Stats(List<double> values)
    {
        var sorted = values.Order().ToList();
        return string.Create(CultureInfo.InvariantCulture,
            $"median {sorted[sorted.Count / 2]:0.00} ms (min {sorted[0]:0.00}, p90 {sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * 0.9))]:0.00})");
    }

    internal static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString(t.TotalMilliseconds < 100 ? "F1" : "F0", CultureInfo.InvariantCulture) + " ms";

    private static void Exec(IProcessRunner runner, params string[] args) =>
        runner.RunAsync(new ProcessRequest(args[0], args[1..])).GetAwaiter().GetResult().EnsureSuccess();

    /// <summary>Passes every request on and records its program, first arguments and wall time.</summary>
    private sealed class TimingRunner(IProcessRunner inner) : IProcessRunner
    {
        private readonly ConcurrentQueue<(string, double)> _calls = new();

        public IEnumerable<(string What, double Ms)> Calls => _calls;

        public void Reset() => _calls.Clear();

        public async Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
        {
            var clock = Stopwatch.StartNew();
            var result = await inner.RunAsync(request, cancellationToken).ConfigureAwait(false);
            var args = request.Arguments.Where(a => !a.StartsWith("nwfbench", StringComparison.Ordinal)).Take(5);
            _calls.Enqueue(($"{request.Program} {string.Join(' ', args)}", clock.Elapsed.TotalMilliseconds));
            return result;
        }
    }
}
