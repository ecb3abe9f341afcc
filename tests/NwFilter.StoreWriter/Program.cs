// Usage: NwFilter.StoreWriter <store-dir> <name-prefix> <count> <go-file>
// Prints "ready", waits until <go-file> exists, then defines <count> filters named <prefix>-<i> into the store.
// Each filter references the one before it, so every define also walks the reference graph. Exit code 0 on success.
//
// Usage: NwFilter.StoreWriter bindings apply|update <bindings-dir> <netns> <backend> <count> <filter>
// Binds ports fault0 .. fault<count-1> in one batch (apply: each to <filter>; update: each to the filter fault-vm,
// redefined here as a reference to <filter>, and re-instantiated as a filter change does), through a BindingManager
// on the store <bindings-dir> in network namespace <netns>. The crash tests run it with NWFILTER_FAULT_KILL set.
using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

if (args.Length == 2 && args[0] == "hold-lock")
{
    // Usage: NwFilter.StoreWriter hold-lock <bindings-dir>: takes the binding store's lock, prints "locked", holds it until killed.
    using var held = new BindingStore(args[1]).Lock(TimeSpan.FromSeconds(30), CancellationToken.None);
    Console.WriteLine("locked");
    Console.Out.Flush();
    Thread.Sleep(Timeout.Infinite);
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
