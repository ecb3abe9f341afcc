using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Xml;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// Resolve and compile (ebtables/iptables plan, queries expanded on an empty host) a filter for N interfaces, each with
/// its own MAC and IP: libvirt's built-in clean-traffic, and the test-eth0 custom filter (clean-traffic + 4 rules).
/// </summary>
public sealed class CompileScenario : IScenario
{
    public string Name => "compile";

    public string Description => "resolve + compile clean-traffic and test-eth0 for N interfaces (default 1000): compile [N] [rounds]";

    public int Run(string[] args)
    {
        var interfaces = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;
        var builtIns = Path.Combine(Locations.Corpus, "src", "nwfilter", "xml");
        if (!Directory.Exists(builtIns))
        {
            Console.Error.WriteLine($"libvirt's built-in filters not found at {builtIns} (set NWFILTER_LIBVIRT_CORPUS)");
            return 3;
        }
        var source = new DirectoryFilterSource(builtIns);
        var testEth0 = NwFilterXmlReader.ReadFilter(File.ReadAllText(Path.Combine(Locations.RepositoryRoot, "tests", "data", "compiler", "test-eth0.xml"))).Value;

        if (Environment.GetEnvironmentVariable("BENCH_BREAKDOWN") == "1")
        {
            Breakdown(source, source.Find("clean-traffic")!, interfaces);
        }
        Console.WriteLine($"{interfaces} interfaces, {rounds} rounds (median), {Environment.ProcessorCount} CPUs, .NET {Environment.Version}");
        Measure("clean-traffic", source, source.Find("clean-traffic")!, interfaces, rounds);
        Measure("test-eth0", source, testEth0, interfaces, rounds);
        return 0;
    }

    private static void Breakdown(IFilterSource source, FilterDefinition filter, int n)
    {
        var mac = PhysicalAddress.Parse("52-54-00-00-00-01");
        var p = ParameterSet.Empty.With("IP", "10.0.0.1");
        for (var round = 0; round < 3; round++)
        {
            var w = Stopwatch.StartNew();
            for (var i = 0; i < n; i++) { FlattenOnly(source, filter, p); }
            var flatten = w.Elapsed.TotalMilliseconds; w.Restart();
            Resolution r = null!;
            for (var i = 0; i < n; i++) { r = FilterResolver.Resolve(source, filter, p, mac); }
            var resolve = w.Elapsed.TotalMilliseconds; w.Restart();
            FirewallPlan plan = null!;
            for (var i = 0; i < n; i++) { plan = EbIpTablesBackend.Instance.ApplyNewRules("vnet0", r.Instances); }
            var compile = w.Elapsed.TotalMilliseconds; w.Restart();
            for (var i = 0; i < n; i++) { DryRunRecorder.Run(plan); }
            var run = w.Elapsed.TotalMilliseconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"breakdown per interface: flatten {flatten / n * 1000:F1} us, resolve(all) {resolve / n * 1000:F1} us, plan {compile / n * 1000:F1} us, expand {run / n * 1000:F1} us"));
        }
    }

    private static void FlattenOnly(IFilterSource source, FilterDefinition filter, ParameterSet p) => FilterGraph.Flatten(source, filter, p);

    private static void Measure(string label, IFilterSource source, FilterDefinition filter, int interfaces, int rounds)
    {
        var inputs = Enumerable.Range(0, interfaces).Select(i => (
            Port: $"vnet{i}",
            Mac: new PhysicalAddress([0x52, 0x54, 0x00, (byte)(i >> 16), (byte)(i >> 8), (byte)i]),
            Parameters: ParameterSet.Empty.With("IP", $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"))).ToArray();

        long instances = 0, commands = 0;
        void Once()
        {
            instances = commands = 0;
            foreach (var (port, mac, parameters) in inputs)
            {
                var resolution = FilterResolver.Resolve(source, filter, parameters, mac);
                var plan = EbIpTablesBackend.Instance.ApplyNewRules(port, resolution.Instances);
                commands += DryRunRecorder.Run(plan).Length;
                instances += resolution.Instances.Length;
            }
        }

        Once(); // warm-up (JIT, file reads)
        var times = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            GC.Collect();
            var watch = Stopwatch.StartNew();
            Once();
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        var median = times[times.Count / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label,-14} {median,8:F1} ms total  {median / interfaces * 1000,7:F1} us/interface  {instances / (median / 1000),10:N0} rule instances/s  ({instances / interfaces} instances, {commands / interfaces} commands per interface; min {times[0]:F1} ms, max {times[^1]:F1} ms)"));
    }
}
