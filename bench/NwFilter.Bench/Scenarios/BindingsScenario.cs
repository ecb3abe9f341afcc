using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using System.Text;
using NwFilter.Core.Apply;

using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// Bindings on the kernel (root): in a throw-away network namespace with a bridge and N veth ports (made with one
/// <c>ip -batch</c>), creates N clean-traffic bindings in one batch, re-applies one binding with N loaded, changes a filter
/// all of them use (every binding re-instantiated in one go), and removes them all; deletes the namespace.
/// </summary>
public sealed class BindingsScenario : IScenario
{
    public string Name => "bindings";

    public string Description => "(root) create/update/remove N clean-traffic bindings in a namespace: bindings [backend=EbIpTables|Nftables] [N ...] (default 1 10 100 1000)";

    public int Run(string[] args)
    {
        const string BackendArgument = "backend=";
        var backend = args.Where(a => a.StartsWith(BackendArgument, StringComparison.OrdinalIgnoreCase))
            .Select(a => Enum.Parse<FirewallBackendKind>(a[BackendArgument.Length..], ignoreCase: true)).LastOrDefault();
        args = [.. args.Where(a => !a.StartsWith(BackendArgument, StringComparison.OrdinalIgnoreCase))];
        var sizes = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [1, 10, 100, 1000];
        Console.WriteLine($"clean-traffic bindings in a network namespace, backend {backend}; {Measure.Machine}");
        Console.WriteLine("| N | create: total | per binding | processes | re-apply 1 with N loaded | change a filter all use | remove all | processes |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var n in sizes)
        {
            var ns = string.Create(CultureInfo.InvariantCulture, $"nwfbench-{Environment.ProcessId}-{n}");
            var state = Path.Combine(Path.GetTempPath(), ns);
            try
            {
                Run(n, ns, state, backend);
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
        return 0;
    }

    private static void Run(int n, string ns, string state, FirewallBackendKind backend)
    {
        Ip(null, $"netns add {ns}\n");
        var links = new StringBuilder("link set lo up\nlink add br0 type bridge\nlink set br0 up\n");
        for (var i = 0; i < n; i++)
        {
            links.Append(CultureInfo.InvariantCulture, $"link add vnet{i} type veth peer name peer{i}\nlink set vnet{i} master br0\nlink set vnet{i} up\n");
        }
        Ip(ns, links.ToString());

        var filters = BuiltInFilters.All.ToList();
        var manager = new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = ns,
            Filters = new InMemoryFilterSource(filters),
            Store = new BindingStore(Path.Combine(state, "bindings"), ns),
        });
        var bindings = Enumerable.Range(0, n).Select(i => new FilterBinding(
            $"vnet{i}",
            new PhysicalAddress([0x52, 0x54, 0x00, (byte)(i >> 16), (byte)(i >> 8), (byte)i]),
            "clean-traffic")
        {
            OwnerName = $"vm{i}",
            Backend = backend,
            Parameters = ParameterSet.Empty.With("IP", string.Create(CultureInfo.InvariantCulture, $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")),
        }).ToList();

        var clock = Stopwatch.StartNew();
        var created = Check(manager.ApplyAsync(bindings, Trace(clock)).GetAwaiter().GetResult());
        var create = clock.Elapsed;

        clock.Restart();
        Check(manager.ApplyAsync([bindings[n / 2]]).GetAwaiter().GetResult());
        var single = clock.Elapsed;

        // no-ip-spoofing, used by every binding through clean-traffic, gets one more rule.
        var changed = filters.Select(f => f.Name != "no-ip-spoofing" ? f : f with
        {
            Entries = [.. f.Entries, new FilterRule(RuleAction.Drop, RuleDirection.Out, ProtocolKind.Ip) { Priority = 999 }],
        }).ToList();
        clock.Restart();
        var reinstantiated = manager.ReinstantiateAsync(new InMemoryFilterSource(changed), ["no-ip-spoofing"], Trace(clock)).GetAwaiter().GetResult();
        var change = clock.Elapsed;
        if (reinstantiated.Items.Length != n)
        {
            throw new InvalidOperationException($"re-instantiated {reinstantiated.Items.Length} of {n}");
        }

        clock.Restart();
        var removed = Check(manager.RemoveAsync([.. bindings.Select(b => b.PortDevice)]).GetAwaiter().GetResult());
        var remove = clock.Elapsed;
        var left = ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "netns", "exec", ns, "ebtables-save")).GetAwaiter().GetResult().StandardOutput +
            ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "netns", "exec", ns, "nft", "list", "ruleset")).GetAwaiter().GetResult().StandardOutput;
        if (left.Contains("libvirt", StringComparison.Ordinal) || left.Contains("vnet", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("chains left after removing every binding");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {n:N0} | {Ms(create)} | {create.TotalMilliseconds / n:0.00} ms | {created.Execution.ProcessLaunches} | {Ms(single)} | {Ms(change)} | {Ms(remove)} | {removed.Execution.ProcessLaunches} |"));
    }

    /// <summary>With BENCH_BREAKDOWN=1, prints when each step starts (stderr).</summary>
    private static Action<BindingProgress>? Trace(Stopwatch clock) =>
        Environment.GetEnvironmentVariable("BENCH_BREAKDOWN") == "1"
            ? p => Console.Error.WriteLine($"  {clock.Elapsed.TotalMilliseconds,8:0} ms  {p.Status}")
            : null;

    private static BindingBatchResult Check(BindingBatchResult result) =>
        result.Failed.FirstOrDefault() is { } failed ? throw new InvalidOperationException($"{failed.PortDevice}: {failed.Error!.Message}") : result;

    private static string Ms(TimeSpan t) => t.TotalSeconds >= 1 ? t.TotalSeconds.ToString("0.00 's'", CultureInfo.InvariantCulture) : t.TotalMilliseconds.ToString("0 'ms'", CultureInfo.InvariantCulture);

    private static void Ip(string? ns, string batch)
    {
        string[] args = ns is null ? ["-batch", "-"] : ["-n", ns, "-batch", "-"];
        ProcessRunner.Default.RunAsync(new ProcessRequest("ip", args) { StandardInput = batch, Timeout = TimeSpan.FromMinutes(5) }).GetAwaiter().GetResult().EnsureSuccess();
    }
}
