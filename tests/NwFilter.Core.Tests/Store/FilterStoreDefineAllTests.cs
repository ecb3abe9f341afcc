using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Store;

/// <summary>FilterStore.DefineAll: several filters stored all or none.</summary>
public sealed class FilterStoreDefineAllTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private FilterStore NewStore() => new(_dir.Path, new FilterStoreOptions { LockTimeout = TimeSpan.FromSeconds(5) });

    private static FilterDefinition Filter(string name, int priority, params string[] refs) =>
        new(name)
        {
            Entries =
            [
                .. refs.Select(r => (FilterEntry)new FilterReference(r)),
                new FilterRule(RuleAction.Accept, RuleDirection.In, ProtocolKind.None) { Priority = priority },
            ],
        };

    private Dictionary<string, byte[]> Snapshot() =>
        Directory.GetFiles(_dir.Path).Where(f => Path.GetFileName(f) != ".lock").ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    [Fact]
    public void DefinesEveryFilterWhenAllAreAccepted()
    {
        var results = NewStore().DefineAll([Filter("a", 100, "b"), Filter("b", 100)]);
        Assert.Equal([DefineOutcome.Created, DefineOutcome.Created], results.Select(r => r.Outcome));
        Assert.NotNull(NewStore().Get("a"));
        Assert.NotNull(NewStore().Get("b"));
        // As separate defines would: the reference to the filter defined after it warns.
        Assert.Equal(StoreCodes.MissingFilterReference, Assert.Single(results[0].Warnings).Code);
    }

    [Fact]
    public void ALaterLoopLeavesTheStoreAsItWas()
    {
        var store = NewStore();
        store.Define(Filter("a", 100));
        var before = Snapshot();

        // a is updated (to reference b), c is created, then b closes the loop a -> b -> a: nothing may stay.
        var e = Assert.Throws<NwFilterException>(() => store.DefineAll([Filter("a", 200, "b"), Filter("c", 100), Filter("b", 100, "a")]));

        Assert.Equal(StoreCodes.FilterLoop, e.Primary.Code);
        Assert.Equal("b", e.Primary.Filter);
        var after = Snapshot();
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        Assert.Equal(before["a.xml"], after["a.xml"]);
        Assert.Equal(100, Assert.IsType<FilterRule>(Assert.Single(NewStore().Get("a")!.Definition.Entries)).Priority);
        Assert.Null(NewStore().Get("c"));
    }

    [Fact]
    public void AnInvalidNameRefusesTheBatchBeforeAnythingIsWritten()
    {
        var e = Assert.Throws<NwFilterException>(() => NewStore().DefineAll([Filter("ok", 100), Filter("../bad", 100)]));
        Assert.Equal(StoreCodes.InvalidFilterName, e.Primary.Code);
        Assert.Empty(Snapshot());
    }
    [Fact]
    public void AnEditOfWhatWasReadIsStoredAndAStaleOneChangesNothing()
    {
        // Two editors read the same filter; the first stores its edit, the second's edit of the old version is refused
        // (it would silently undo the first), and the store keeps the first's.
        var store = NewStore();
        store.Define(Filter("web", 100));
        var read = store.Get("web")!.Definition;
        var first = store.DefineAll([read with { Entries = [.. read.Entries, new FilterRule(RuleAction.Drop, RuleDirection.In, ProtocolKind.None) { Priority = 200 }] }],
            new Dictionary<string, FilterDefinition?> { ["web"] = read });
        Assert.Equal(DefineOutcome.Updated, Assert.Single(first).Outcome);
        var after = Snapshot();

        var stale = read with { Entries = [.. read.Entries, new FilterRule(RuleAction.Accept, RuleDirection.Out, ProtocolKind.None) { Priority = 300 }] };
        var e = Assert.Throws<NwFilterException>(() => store.DefineAll([stale], new Dictionary<string, FilterDefinition?> { ["web"] = read }));
        Assert.Equal(StoreCodes.FilterChangedConcurrently, e.Diagnostics[0].Code);
        Assert.Contains("'web' changed while it was being edited", e.Message, StringComparison.Ordinal);
        Assert.Equal(after, Snapshot());
        Assert.Equal([100, 200], NewStore().Get("web")!.Definition.Rules.Select(r => r.Priority));
    }
}
