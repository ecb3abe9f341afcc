using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Store;

public sealed class FilterStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private FilterStore NewStore(IBindingUsage? usage = null) =>
        new(_dir.Path, new FilterStoreOptions { BindingUsage = usage ?? NoBindingUsage.Instance, LockTimeout = TimeSpan.FromSeconds(5) });

    private static FilterDefinition Filter(string name, params string[] refs) =>
        new(name)
        {
            Entries =
            [
                .. refs.Select(r => (FilterEntry)new FilterReference(r)),
                new FilterRule(RuleAction.Accept, RuleDirection.In, ProtocolKind.None) { Priority = 100 },
            ],
        };

    private string[] FilesInStore() =>
        [.. Directory.GetFiles(_dir.Path).Select(Path.GetFileName).Where(n => n != ".lock").Order(StringComparer.Ordinal)!];

    [Fact]
    public void DefineThenGetRoundTripsThroughCanonicalXml()
    {
        var store = NewStore();
        var result = store.Define(Filter("web", "clean-traffic"));
        Assert.Equal(DefineOutcome.Created, result.Outcome);
        Assert.Empty(result.Warnings);
        Assert.NotNull(result.Filter.Definition.Uuid);

        var path = Path.Combine(_dir.Path, "web.xml");
        Assert.Equal(path, result.Filter.Path);
        Assert.Equal(NwFilterXmlWriter.Write(result.Filter.Definition), File.ReadAllText(path));

        var again = NewStore().Get("web");
        Assert.NotNull(again);
        Assert.Equal(result.Filter.Definition, again.Definition);
        Assert.Equal(FilterOrigin.Defined, again.Origin);
        Assert.Equal(["web.xml"], FilesInStore());
    }

    [Fact]
    public void MissingUuidIsGeneratedAndKeptOnRedefine()
    {
        var store = NewStore();
        var first = store.Define(Filter("a")).Filter.Uuid;
        var second = store.Define(Filter("a") with { Chain = "ipv4", Priority = -700 });
        Assert.Equal(DefineOutcome.Updated, second.Outcome);
        Assert.Equal(first, second.Filter.Uuid);
        Assert.Equal("ipv4", store.Get("a")!.Definition.Chain);
    }

    [Fact]
    public void GivenUuidIsKept()
    {
        var uuid = Guid.NewGuid();
        var store = NewStore();
        Assert.Equal(uuid, store.Define(Filter("a") with { Uuid = uuid }).Filter.Uuid);
        Assert.Equal(uuid, store.Define(Filter("a") with { Uuid = uuid, Priority = 5 }).Filter.Uuid);
        Assert.Equal("a", store.FindByUuid(uuid)?.Name);
    }

    [Fact]
    public void UuidOfAnotherFilterIsRefused()
    {
        var store = NewStore();
        var uuid = store.Define(Filter("a")).Filter.Uuid;
        var e = Assert.Throws<NwFilterException>(() => store.Define(Filter("b") with { Uuid = uuid }));
        Assert.Equal(StoreCodes.UuidInUse, e.Primary.Code);
        Assert.Equal(DiagnosticCategory.InvalidOperation, e.Primary.Category);
        Assert.Contains("'a'", e.Message);
        Assert.Null(store.Get("b"));
    }

    [Fact]
    public void UuidOfABuiltInIsRefusedForAnotherName()
    {
        var e = Assert.Throws<NwFilterException>(() => NewStore().Define(Filter("mine") with { Uuid = FilterStore.DefaultUuid("clean-traffic") }));
        Assert.Equal(StoreCodes.UuidInUse, e.Primary.Code);
    }

    [Fact]
    public void RedefiningANameWithAnotherUuidIsRefused()
    {
        var store = NewStore();
        store.Define(Filter("a"));
        var e = Assert.Throws<NwFilterException>(() => store.Define(Filter("a") with { Uuid = Guid.NewGuid() }));
        Assert.Equal(StoreCodes.FilterExistsWithOtherUuid, e.Primary.Code);
    }

    [Fact]
    public void UnchangedDefinitionIsNotRewritten()
    {
        var store = NewStore();
        var created = store.Define(Filter("a"));
        var before = File.GetLastWriteTimeUtc(created.Filter.Path!);
        Thread.Sleep(20);
        var again = store.Define(Filter("a"));
        Assert.Equal(DefineOutcome.Unchanged, again.Outcome);
        Assert.Equal(before, File.GetLastWriteTimeUtc(created.Filter.Path!));
    }

    [Fact]
    public void LoopIsRefusedWithTheCycleSpelledOut()
    {
        var store = NewStore();
        store.Define(Filter("c", "a")); // warns: a does not exist yet
        store.Define(Filter("b", "c"));
        var e = Assert.Throws<NwFilterException>(() => store.Define(Filter("a", "b")));
        Assert.Equal(StoreCodes.FilterLoop, e.Primary.Code);
        Assert.Equal("a -> b -> c -> a", e.Primary.Value);
        Assert.Contains("a -> b -> c -> a", e.Message);
        Assert.Null(store.Get("a"));
    }

    [Fact]
    public void SelfReferenceIsALoop()
    {
        var e = Assert.Throws<NwFilterException>(() => NewStore().Define(Filter("a", "a")));
        Assert.Equal("a -> a", e.Primary.Value);
    }

    [Fact]
    public void LoopThroughARedefinitionIsFound()
    {
        var store = NewStore();
        store.Define(Filter("a"));
        store.Define(Filter("b", "a"));
        var e = Assert.Throws<NwFilterException>(() => store.Define(Filter("a", "x", "b")));
        Assert.Equal("a -> b -> a", e.Primary.Value);
        Assert.Empty(store.Get("a")!.Definition.References);
    }

    [Fact]
    public void DiamondIsNotALoop()
    {
        var store = NewStore();
        store.Define(Filter("d"));
        store.Define(Filter("b", "d"));
        store.Define(Filter("c", "d"));
        Assert.Equal(DefineOutcome.Created, store.Define(Filter("a", "b", "c")).Outcome);
    }

    [Fact]
    public void MissingReferenceIsAcceptedWithAWarning()
    {
        var result = NewStore().Define(Filter("a", "nope", "clean-traffic", "nope"));
        Assert.Equal(DefineOutcome.Created, result.Outcome);
        var w = Assert.Single(result.Warnings);
        Assert.Equal(DiagnosticSeverity.Warning, w.Severity);
        Assert.Equal(StoreCodes.MissingFilterReference, w.Code);
        Assert.Equal("nope", w.Value);
        Assert.Equal("a", w.Filter);
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    [InlineData("")]
    public void InvalidNamesAreRefusedAndNothingIsWritten(string name)
    {
        var e = Assert.Throws<NwFilterException>(() => NewStore().Define(Filter(name)));
        Assert.Equal(StoreCodes.InvalidFilterName, e.Primary.Code);
        Assert.Empty(FilesInStore());
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(_dir.Path)!, "escape.xml")));
    }

    [Fact]
    public void BuiltInsArePresentWithoutInstalling()
    {
        var store = NewStore();
        var listing = store.List();
        Assert.Equal(BuiltInFilters.Names, listing.Filters.Select(f => f.Name));
        Assert.All(listing.Filters, f => Assert.Equal(FilterOrigin.BuiltIn, f.Origin));
        Assert.Equal(FilterStore.DefaultUuid("clean-traffic"), store.Get("clean-traffic")!.Uuid);
        Assert.Empty(FilesInStore());
    }

    [Fact]
    public void DefinitionShadowsABuiltInAndRemovalRevealsItAgain()
    {
        var store = NewStore();
        var builtIn = store.Get("allow-arp")!;
        var redefined = store.Define(new FilterDefinition("allow-arp") { Chain = "arp", Priority = -500 });
        Assert.Equal(DefineOutcome.Updated, redefined.Outcome);
        Assert.Equal(builtIn.Uuid, redefined.Filter.Uuid);
        Assert.Equal(FilterOrigin.Redefined, store.Get("allow-arp")!.Origin);
        Assert.Empty(store.Get("allow-arp")!.Definition.Entries);

        var removed = store.Undefine("allow-arp");
        Assert.NotNull(removed.Revealed);
        Assert.Empty(removed.Warnings);
        Assert.Equal(builtIn, store.Get("allow-arp"));
    }

    [Fact]
    public void DefiningABuiltInAsItIsChangesNothing()
    {
        var store = NewStore();
        var result = store.Define(BuiltInFilters.Find("clean-traffic")! with { Uuid = null });
        Assert.Equal(DefineOutcome.Unchanged, result.Outcome);
        Assert.Empty(FilesInStore());
    }

    [Fact]
    public void BuiltInThatIsNotRedefinedCannotBeRemoved()
    {
        var e = Assert.Throws<NwFilterException>(() => NewStore().Undefine("clean-traffic"));
        Assert.Equal(StoreCodes.BuiltInFilterNotRemovable, e.Primary.Code);
    }

    [Fact]
    public void UndefineRefusesAnUnknownName()
    {
        var e = Assert.Throws<NwFilterException>(() => NewStore().Undefine("nope"));
        Assert.Equal(StoreCodes.FilterNotFound, e.Primary.Code);
        Assert.Equal(DiagnosticCategory.ObjectNotFound, e.Primary.Category);
    }

    [Fact]
    public void UndefineWarnsAboutEachFilterStillReferencingIt()
    {
        var store = NewStore();
        store.Define(Filter("base"));
        store.Define(Filter("x", "base"));
        store.Define(Filter("y", "base"));
        store.Define(Filter("z", "x"));
        var result = store.Undefine("base");
        Assert.Equal(["x", "y"], result.Warnings.Select(w => w.Filter));
        Assert.All(result.Warnings, w => Assert.Equal(StoreCodes.FilterStillReferenced, w.Code));
        Assert.Null(store.Get("base"));
        Assert.False(File.Exists(Path.Combine(_dir.Path, "base.xml")));
    }

    [Fact]
    public void UndefineRefusesAFilterABindingUsesDirectlyOrThroughAReference()
    {
        var usage = new FakeBindingUsage { ["top"] = ["vnet0"] };
        var store = NewStore(usage);
        store.Define(Filter("leaf"));
        store.Define(Filter("top", "leaf"));
        store.Define(Filter("unused"));

        var direct = Assert.Throws<NwFilterException>(() => store.Undefine("top"));
        Assert.Equal(StoreCodes.FilterInUse, direct.Primary.Code);
        Assert.Contains("'vnet0'", direct.Message);

        var indirect = Assert.Throws<NwFilterException>(() => store.Undefine("leaf"));
        Assert.Equal(StoreCodes.FilterInUse, indirect.Primary.Code);
        Assert.Contains("through 'top'", indirect.Message);
        Assert.NotNull(store.Get("leaf"));

        store.Undefine("unused");
    }

    [Fact]
    public void UnreadableFilesAreReportedNotThrownByList()
    {
        var store = NewStore();
        store.Define(Filter("good"));
        File.WriteAllText(Path.Combine(_dir.Path, "broken.xml"), "<filter name='broken'><rule");
        File.WriteAllText(Path.Combine(_dir.Path, "renamed.xml"), NwFilterXmlWriter.Write(Filter("other") with { Uuid = Guid.NewGuid() }));
        File.WriteAllText(Path.Combine(_dir.Path, ".ignored.xml"), "junk");

        var listing = store.List();
        Assert.Contains(listing.Filters, f => f.Name == "good");
        Assert.DoesNotContain(listing.Filters, f => f.Name is "broken" or "renamed" or "other");
        Assert.Equal(2, listing.Problems.Length);
        Assert.Contains(listing.Problems, p => p.Code == StoreCodes.FilterFileNameMismatch && p.Filter == "renamed");
        Assert.Contains(listing.Problems, p => p.Filter == "broken" && p.Source!.EndsWith("broken.xml", StringComparison.Ordinal));
        Assert.Throws<NwFilterException>(() => store.Get("broken"));
    }

    [Fact]
    public void FileWithoutUuidGetsItsNameBasedUuid()
    {
        File.WriteAllText(Path.Combine(_dir.Path, "hand.xml"), "<filter name='hand'><rule action='accept' direction='in'/></filter>");
        Assert.Equal(FilterStore.DefaultUuid("hand"), NewStore().Get("hand")!.Uuid);
    }

    [Fact]
    public void ListSeesChangesMadeByOthers()
    {
        var store = NewStore();
        store.Define(Filter("a"));
        Assert.Contains(store.List().Filters, f => f.Name == "a");
        NewStore().Define(Filter("a") with { Priority = 7 });
        NewStore().Define(Filter("b"));
        var listing = store.List();
        Assert.Equal(7, listing.Filters.Single(f => f.Name == "a").Definition.Priority);
        Assert.Contains(listing.Filters, f => f.Name == "b");
        File.Delete(Path.Combine(_dir.Path, "b.xml"));
        Assert.DoesNotContain(store.List().Filters, f => f.Name == "b");
    }

    [Fact]
    public void FindImplementsTheFilterSource()
    {
        NwFilter.Core.Graph.IFilterSource source = NewStore();
        Assert.NotNull(source.Find("clean-traffic"));
        Assert.Null(source.Find("nope"));
        Assert.Null(source.Find("../x"));
    }

    [Fact]
    public void DefineManyImportsABatchWithReferencesInAnyOrder()
    {
        var store = NewStore();
        var results = store.DefineMany([Filter("top", "mid"), Filter("mid", "leaf"), Filter("leaf"), Filter("bad/name")]);
        Assert.Equal(4, results.Length);
        Assert.All(results.Take(3), r => Assert.Empty(r.Result!.Warnings));
        Assert.Equal(StoreCodes.InvalidFilterName, results[3].Error!.Primary.Code);
        Assert.NotNull(store.Get("top"));
    }

    [Fact]
    public void DefineManySkipsFiltersEqualApartFromTheirUuid()
    {
        var store = NewStore();
        var libvirtCopy = BuiltInFilters.Find("allow-arp")! with { Uuid = Guid.NewGuid() };
        var results = store.DefineMany([libvirtCopy], skipUnchanged: true);
        Assert.Equal(DefineOutcome.Unchanged, results[0].Result!.Outcome);
        Assert.Empty(FilesInStore());
    }

    [Fact]
    public void DefineStoresWhatALaterReadReturns()
    {
        var store = NewStore();
        // A sub-chain without a priority gets the chain's default, as the reader gives it.
        var result = store.Define(new FilterDefinition("arp-only") { Chain = "arp" });
        Assert.Equal(-500, result.Filter.Definition.Priority);
        Assert.Equal(result.Filter.Definition, NewStore().Get("arp-only")!.Definition);
    }

    [Fact]
    public void FilterBuiltInCodeIsValidatedByTheReader()
    {
        var e = Assert.Throws<NwFilterException>(() => NewStore().Define(new FilterDefinition("bad") { Chain = "nochain" }));
        Assert.Equal(DiagnosticCategory.InvalidData, e.Primary.Category);
        Assert.Empty(FilesInStore());
    }

    [Fact]
    public void CheckFindsNothingWrongWithAUsableFilter()
    {
        var store = NewStore();
        Assert.Empty(store.Check(Filter("web", "clean-traffic")));
        Assert.All(BuiltInFilters.All, f => Assert.Empty(store.Check(f)));
    }

    [Fact]
    public void CheckReportsAMissingFilterAnywhereInTheTreeAsAnError()
    {
        var store = NewStore();
        store.Define(Filter("middle", "leaf-missing"));
        var problem = Assert.Single(store.Check(Filter("top", "middle")));
        Assert.Equal(DiagnosticSeverity.Error, problem.Severity);
        Assert.Equal("middle", problem.Filter);
        Assert.Equal("leaf-missing", problem.Value);
        Assert.DoesNotContain("top.xml", FilesInStore());
    }

    [Fact]
    public void CheckReportsWhatDefineWouldRefuseWithoutWriting()
    {
        var store = NewStore();
        var uuid = store.Define(Filter("a")).Filter.Uuid;
        store.Define(Filter("b", "a"));
        Assert.Equal(StoreCodes.UuidInUse, Assert.Single(store.Check(Filter("c") with { Uuid = uuid })).Code);
        Assert.Contains(store.Check(Filter("a", "b")), d => d.Code == NwFilter.Core.Graph.FilterGraph.FilterLoopCode);
        Assert.Equal(StoreCodes.InvalidFilterName, Assert.Single(store.Check(Filter("../x"))).Code);
        Assert.Equal(["a.xml", "b.xml"], FilesInStore());
    }

    [Fact]
    public void CheckReportsAnUnreadableReferencedFileOnce()
    {
        var store = NewStore();
        File.WriteAllText(Path.Combine(_dir.Path, "broken.xml"), "<filter name='broken'><rule");
        var problems = store.Check(Filter("top", "broken"));
        Assert.NotEmpty(problems);
        Assert.DoesNotContain(problems, p => p.Code == NwFilter.Core.Graph.FilterGraph.FilterNotFoundCode);
        Assert.All(problems, p => Assert.EndsWith("broken.xml", p.Source, StringComparison.Ordinal));
    }

    private sealed class FakeBindingUsage : Dictionary<string, string[]>, IBindingUsage
    {
        public IReadOnlyList<string> FindBindingsUsing(string filterName) => TryGetValue(filterName, out var b) ? b : [];
    }
}
