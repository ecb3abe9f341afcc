// Usage: NwFilter.StoreWriter <store-dir> <name-prefix> <count> <go-file>
// Prints "ready", waits until <go-file> exists, then defines <count> filters named <prefix>-<i> into the store.
// Each filter references the one before it, so every define also walks the reference graph. Exit code 0 on success.
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

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
