using NwFilter.Core.Backends.Nftables.Kernel;
using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Xml;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// The native nftables backend on the real kernel, in a namespace of its own (nwfbench-nft-PID, deleted at the end):
/// N bridge ports (veth pairs made with one <c>ip -batch</c>), each bound to a filter that references clean-traffic;
/// apply all N in one transaction and as N separate changes, replace one port with N loaded, update the filter used
/// by all (N ports re-applied in one transaction), remove all. Needs root.
/// </summary>
public sealed class NftScenario : IScenario
{
    public string Name => "nft";

    public string Description => "nftables backend on the kernel (root): nft [N,N,...=1,10,100,1000] [filter=clean-traffic] [process|lib]";

    private const string Wrapper = "bench-filter";

    public int Run(string[] args)
    {
        var counts = (args.Length > 0 ? args[0] : "1,10,100,1000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var filter = args.Length > 1 ? args[1] : "clean-traffic";
        var inProcess = args.Length > 2 && args[2] == "lib";
        if (Environment.UserName != "root")
        {
            Console.Error.WriteLine("the nft scenario needs root (it builds a network namespace)");
            return 3;
        }
        Console.WriteLine($"nft scenario, filter {filter}, {(inProcess ? "in-process libnftables" : "nft -f processes")}, {Measure.Machine}");
        Console.WriteLine("| ports | compile all | apply all, 1 transaction (nft -f) | apply as N changes, per change | replace 1 of N, cold (warm) | update filter used by all | read state | remove all |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        RunOne(1, filter, inProcess, print: false); // warm-up: JIT, nft's first run
        foreach (var n in counts)
        {
            RunOne(n, filter, inProcess, print: true);
        }
        return 0;
    }

    private static void RunOne(int n, string filter, bool inProcess, bool print)
    {
        var ns = $"nwfbench-nft-{Environment.ProcessId}-{n}";
        var runner = ProcessRunner.Default;
        try
        {
            Ip(runner, $"netns add {ns}\n", []);
            var batch = new System.Text.StringBuilder("link set lo up\nlink add br0 type bridge stp_state 0 forward_delay 0\nlink set br0 up\n");
            for (var i = 0; i < n; i++)
            {
                batch.Append(CultureInfo.InvariantCulture, $"link add vnet{i} type veth peer name peer{i}\nlink set vnet{i} master br0\nlink set vnet{i} up\n");
            }
            Ip(runner, batch.ToString(), ["-n", ns]);
            using var library = inProcess ? new LibNftablesRunner(ns) : null;
            var applier = library is null ? new NftablesApplier(runner, ns) : new NftablesApplier(library);

            var v1 = Source(filter, extraRule: false);
            var v2 = Source(filter, extraRule: true);
            var clock = Stopwatch.StartNew();
            var rulesets = Compile(v1, n);
            var compile = clock.Elapsed;
            var updated = Compile(v2, n);

            var all = applier.ApplyAsync([.. rulesets.Select(NftPortChange.Set)]).GetAwaiter().GetResult();
            if (Environment.GetEnvironmentVariable("NWFILTER_BENCH_DUMP") is { Length: > 0 } dump)
            {
                File.WriteAllText(Path.Combine(dump, $"nft-apply-{n}.nft"), all.Script.Text);
            }
            var state = Time(() => applier.ReadStateAsync());
            applier.Invalidate();
            var replaceCold = applier.ApplyAsync([NftPortChange.Set(updated[n / 2])]).GetAwaiter().GetResult();
            var replaceWarm = applier.ApplyAsync([NftPortChange.Set(rulesets[n / 2])]).GetAwaiter().GetResult();
            var update = applier.ApplyAsync([.. updated.Select(NftPortChange.Set)]).GetAwaiter().GetResult();
            var removeAll = applier.RemoveAsync(rulesets.Select(r => r.PortDevice)).GetAwaiter().GetResult();

            clock.Restart();
            foreach (var ruleset in rulesets)
            {
                applier.ApplyAsync([NftPortChange.Set(ruleset)]).GetAwaiter().GetResult();
            }
            var separate = clock.Elapsed;
            applier.RemoveAsync(rulesets.Select(r => r.PortDevice)).GetAwaiter().GetResult();

            if (print)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {n:N0} | {Ms(compile)} | {Ms(all.Elapsed)} ({Ms(all.TransactionElapsed)}; {all.Script.Statements.Length:N0} statements) | {separate.TotalMilliseconds / n:F1} ms ({Ms(separate)} in all) | {Ms(replaceCold.Elapsed)} ({Ms(replaceWarm.Elapsed)}) | {Ms(update.Elapsed)} | {Ms(state)} | {Ms(removeAll.Elapsed)} |"));
            }
        }
        finally
        {
            runner.RunAsync(new ProcessRequest("ip", "netns", "delete", ns)).GetAwaiter().GetResult();
        }
    }

    /// <summary>The built-ins plus a wrapper filter referencing <paramref name="filter"/> (v2 adds one rule: "a filter used by all changed").</summary>
    private static IFilterSource Source(string filter, bool extraRule)
    {
        var extra = extraRule ? "<rule action='drop' direction='out' priority='-990'><mac protocolid='0x88b5'/></rule>" : "";
        var wrapper = NwFilterXmlReader.ReadFilter($"<filter name='{Wrapper}'><filterref filter='{filter}'/>{extra}</filter>").Value!;
        return new InMemoryFilterSource([.. BuiltInFilters.All, wrapper]);
    }

    private static List<NftPortRuleset> Compile(IFilterSource source, int n) =>
        [.. Enumerable.Range(0, n).Select(i =>
        {
            var mac = new PhysicalAddress([0x52, 0x54, 0x00, (byte)(i >> 16), (byte)(i >> 8), (byte)i]);
            var parameters = ParameterSet.Empty.With("IP", $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}");
            return NftablesCompiler.Compile($"vnet{i}", FilterResolver.Resolve(source, Wrapper, parameters, mac));
        })];

    private static TimeSpan Time<T>(Func<Task<T>> action)
    {
        var clock = Stopwatch.StartNew();
        action().GetAwaiter().GetResult();
        return clock.Elapsed;
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString(t.TotalMilliseconds < 100 ? "F1" : "F0", CultureInfo.InvariantCulture) + " ms";

    private static void Ip(IProcessRunner runner, string input, string[] options) =>
        runner.RunAsync(new ProcessRequest("ip", [.. options, "-batch", "-"]) { StandardInput = input, Timeout = TimeSpan.FromMinutes(5) })
            .GetAwaiter().GetResult().EnsureSuccess();
}
