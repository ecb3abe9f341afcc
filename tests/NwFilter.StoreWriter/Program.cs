// Usage: NwFilter.StoreWriter <store-dir> <name-prefix> <count> <go-file>
// Prints "ready", waits until <go-file> exists, then defines <count> filters named <prefix>-<i> into the store.
// Each filter references the one before it, so every define also walks the reference graph. Exit code 0 on success.
//
// Usage: NwFilter.StoreWriter bindings apply|update <bindings-dir> <netns> <backend> <count> <filter>
// Binds ports fault0 .. fault<count-1> in one batch (apply: each to <filter>; update: each to the filter fault-vm,
// redefined here as a reference to <filter>, and re-instantiated as a filter change does), through a BindingManager
// on the store <bindings-dir> in network namespace <netns>. The crash tests run it with NWFILTER_FAULT_KILL set.
//
// Usage: NwFilter.StoreWriter runtime-worker <config-dir> <state-dir> <netns> <backend> <worker> <count> <go-file>
// One of the concurrent processes of ConcurrentProcessesTests: through NwFilterRuntime (the engine the module and
// nwfilterd host), on the stores <config-dir>/<state-dir> and namespace <netns>, prints "ready", waits for <go-file>,
// (having defined version 0 of the filters below) then creates <count> bindings cw<worker>p<i> in batches of five (binding i uses the filter cw<worker>-<i % 5>) and
// after each batch redefines one of its own filters (cw<worker>-<batch % 5>, version <batch>), and after every fourth
// batch the filter cshared every worker's filters reference: each redefinition re-applies the bindings that use it,
// those of the other processes too. Exit code 0 when every step succeeded, else 1 with the failures on stderr.
using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Runtime;
using NwFilter.Core.Backends;

if (args.Length == 2 && args[0] == "hold-lock")
{
    // Usage: NwFilter.StoreWriter hold-lock <bindings-dir>: takes the binding store's lock, prints "locked", holds it until killed.
    using var held = new BindingStore(args[1]).Lock(TimeSpan.FromSeconds(30), CancellationToken.None);
    Console.WriteLine("locked");
    Console.Out.Flush();
    Thread.Sleep(Timeout.Infinite);
}
if (args.Length == 8 && args[0] == "runtime-worker")
{
    return await RuntimeWorker(new StoreLocation(args[1], args[2]), args[3], Enum.Parse<FirewallBackendKind>(args[4], ignoreCase: true), int.Parse(args[5]), int.Parse(args[6]), args[7]);
}
if (args.Length == 7 && args[0] == "bindings")
{
    return await Bindings(args[1], args[2], args[3], Enum.Parse<FirewallBackendKind>(args[4], ignoreCase: true), int.Parse(args[5]), args[6]);
}
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: NwFilter.StoreWriter <store-dir> <name-prefix> <count> <go-file>");
    return 2;
}
var (directory, prefix, count, go) = (args[0], args[1], int.Parse(args[2]), args[3]);
var store = new FilterStore(directory, new FilterStoreOptions { LockTimeout = TimeSpan.FromSeconds(60) });
Console.WriteLine("ready");
Console.Out.Flush();
var deadline = DateTime.UtcNow.AddSeconds(60);
while (!File.Exists(go))
{
    if (DateTime.UtcNow > deadline)
    {
        Console.Error.WriteLine("no go signal");
        return 3;
    }
    Thread.Sleep(1);
}
try
{
    for (var i = 0; i < count; i++)
    {
        FilterEntry[] entries = i == 0
            ? [new FilterRule(RuleAction.Accept, RuleDirection.InOut, ProtocolKind.None) { Priority = i % 1000 }]
            : [new FilterReference($"{prefix}-{i - 1}"), new FilterRule(RuleAction.Drop, RuleDirection.Out, ProtocolKind.None) { Priority = i % 1000 }];
        store.Define(new FilterDefinition($"{prefix}-{i}") { Entries = [.. entries] });
    }
}
catch (NwFilterException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
Console.WriteLine("done");
return 0;

static async Task<int> Bindings(string mode, string directory, string ns, FirewallBackendKind backend, int count, string filter)
{
    var filters = new InMemoryFilterSource([.. BuiltInFilters.All, new FilterDefinition("fault-vm") { Entries = [new FilterReference(filter)] }]);
    var manager = new BindingManager(new BindingManagerOptions
    {
        NetworkNamespace = ns,
        Filters = filters,
        Store = new BindingStore(directory, ns),
        LockTimeout = TimeSpan.FromSeconds(120),
    });
    try
    {
        if (mode == "update")
        {
            await manager.ReinstantiateAsync(filters, ["fault-vm"]);
            return 0;
        }
        var bindings = Enumerable.Range(0, count).Select(i => new FilterBinding($"fault{i}",
            System.Net.NetworkInformation.PhysicalAddress.Parse($"52-54-00-00-{i / 256:X2}-{i % 256:X2}"), filter) { Backend = backend, OwnerName = $"vm{i}", OwnerUuid = new Guid($"00000000-0000-4000-8000-{i:x12}") }).ToList();
        var result = await manager.ApplyAsync(bindings);
        foreach (var failed in result.Items.Where(i => !i.Succeeded))
        {
            Console.Error.WriteLine($"{failed.PortDevice}: {failed.Error!.Message}");
        }
        return result.Items.All(i => i.Succeeded) ? 0 : 1;
    }
    catch (NwFilterException e)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }
}

static async Task<int> RuntimeWorker(StoreLocation location, string ns, FirewallBackendKind backend, int worker, int count, string go)
{
    await using var runtime = new NwFilterRuntime(new NwFilterRuntimeOptions { Location = location, DefaultNamespace = ns });
    var host = new WorkerHost();
    // Version 0 of cshared (every worker writes the same) and of this worker's own filters, before the start.
    var initial = await runtime.HandleAsync(new DefineFiltersRequest([ConcurrentFilters.Shared(0), .. Enumerable.Range(0, 5).Select(j => ConcurrentFilters.Own(worker, j, 0))]), host);
    if (!initial.Succeeded)
    {
        Console.Error.WriteLine($"initial filters: {initial.Error?.Message}");
        return 1;
    }
    Console.WriteLine("ready");
    Console.Out.Flush();
    var deadline = DateTime.UtcNow.AddSeconds(120);
    while (!File.Exists(go))
    {
        if (DateTime.UtcNow > deadline)
        {
            Console.Error.WriteLine("no go signal");
            return 3;
        }
        Thread.Sleep(1);
    }
    var failures = 0;
    for (var batch = 0; batch * 5 < count; batch++)
    {
        var bindings = Enumerable.Range(batch * 5, Math.Min(5, count - batch * 5)).Select(i => NwFilter.Core.Runtime.Bindings.Create($"cw{worker}p{i}",
            System.Net.NetworkInformation.PhysicalAddress.Parse($"52-54-00-0{worker}-{i / 256:X2}-{i % 256:X2}"), $"cw{worker}-{i % 5}",
            ParameterSet.FromPairs([KeyValuePair.Create("IP", $"10.{worker}.{i / 256}.{i % 256}")]), backend: backend)).ToList();
        var applied = await runtime.HandleAsync(new ApplyBindingsRequest(bindings), host);
        foreach (var item in applied.Items.Where(i => !i.Succeeded))
        {
            failures++;
            Console.Error.WriteLine($"apply {item.PortDevice}: {item.Error!.Message}");
        }
        var redefined = new List<FilterDefinition> { ConcurrentFilters.Own(worker, batch % 5, batch + 1) };
        if (batch % 4 == 3)
        {
            redefined.Add(ConcurrentFilters.Shared(worker * 100 + batch));
        }
        foreach (var filter in redefined)
        {
            var defined = await runtime.HandleAsync(new DefineFiltersRequest([filter]), host);
            if (!defined.Succeeded)
            {
                failures++;
                Console.Error.WriteLine($"define {filter.Name}: {defined.Error?.Message ?? string.Join("; ", defined.Items.Select(i => i.Error?.Message))}");
            }
        }
    }
    foreach (var e in host.Errors)
    {
        Console.Error.WriteLine(e);
    }
    return failures == 0 && host.Errors.Count == 0 ? 0 : 1;
}

/// <summary>The filters of the concurrent-process test.</summary>
internal static class ConcurrentFilters
{
    /// <summary>cshared: one rule whose port is the version, so every version has other rules.</summary>
    public static FilterDefinition Shared(int version) => NwFilter.Core.Xml.NwFilterXmlReader.ReadFilter(
        $"<filter name='cshared' chain='root'><rule action='drop' direction='in' priority='400'><tcp dstportstart='{1000 + version}'/></rule></filter>").Value;

    /// <summary>cw&lt;worker&gt;-&lt;index&gt;: cshared, no-mac-spoofing, and a rule whose address is the version.</summary>
    public static FilterDefinition Own(int worker, int index, int version) => NwFilter.Core.Xml.NwFilterXmlReader.ReadFilter(
        $"<filter name='cw{worker}-{index}' chain='root'><filterref filter='cshared'/><filterref filter='no-mac-spoofing'/>" +
        $"<rule action='accept' direction='out' priority='500'><ip srcipaddr='$IP' dstipaddr='10.{200 + worker}.{index}.{version % 256}'/></rule></filter>").Value;
}

/// <summary>Collects the runtime's errors; the rest is dropped.</summary>
internal sealed class WorkerHost : IRuntimeHost
{
    public List<string> Errors { get; } = [];

    public void Report(RuntimeEvent runtimeEvent)
    {
        if (runtimeEvent.Level == RuntimeEventLevel.Error)
        {
            lock (Errors)
            {
                Errors.Add($"{runtimeEvent.Id}: {runtimeEvent.Message}");
            }
        }
    }

    public void Progress(RuntimeProgress progress)
    {
    }

    public void LearnerStarted(LearnerStarted started)
    {
    }

    public bool Confirm(ConfirmationRequest request) => true;
}
