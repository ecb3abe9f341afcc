using System.Diagnostics;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Store;
using NwFilter.Core.Schema;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Hostile;

/// <summary>
/// Hostile input at scale (issue 11), beyond tests/data/bad: every case fails with its exact error id, within a
/// hang guard of 2 s and a bound on what it allocates, and leaves the filter store byte for byte as it was.
/// Filter cases are defined through a <see cref="Store.FilterStore"/> in a temp directory; binding cases are compiled
/// through the binding path (<see cref="Backends.RulesetBuilder"/>, both backends; no kernel needed).
/// </summary>
public sealed class HostileInputTests(HostileStore fixture) : IClassFixture<HostileStore>
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(2);

    internal static readonly Dictionary<string, HostileCase> Cases = Collect();

    private static Dictionary<string, HostileCase> Collect()
    {
        var all = new Dictionary<string, HostileCase>(StringComparer.Ordinal);
        foreach (var c in DocumentCases.All().Concat(NameCases.All()).Concat(GraphCases.All()).Concat(ValueCases.All()))
        {
            Assert.True(all.TryAdd(c.Name, c), $"two cases are named {c.Name}");
        }
        return all;
    }

    public static TheoryData<string> Names { get; } = new(Cases.Keys.Order(StringComparer.Ordinal));

    [Fact]
    public void ThereAreAtLeastThreeHundredCases() => Assert.True(Cases.Count >= 300, $"only {Cases.Count} hostile cases");

    [Theory]
    [MemberData(nameof(Names))]
    public void HostileInputIsRefusedWithItsIdQuicklyAndChangesNothing(string name)
    {
        var c = Cases[name];
        var before = fixture.Hash();
        var run = c.Prepare(fixture);

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var error = Record.Exception(run);
        watch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.NotNull(error);
        Assert.True(ErrorIds.Of(error) is not null, $"not an NwFilter error: {error}");
        Assert.Equal(c.Code, ErrorIds.Of(error));
        c.Check?.Invoke(error);
        Assert.True(watch.Elapsed < HangGuard, $"took {watch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(allocated < c.MaxAllocatedBytes, $"allocated {allocated / (1024 * 1024)} MiB (bound {c.MaxAllocatedBytes / (1024 * 1024)} MiB)");
        Assert.Equal(before, fixture.Hash());
    }

    [Fact]
    public void EveryTypedAttributeOfTheProtocolTableHasOutOfRangeCases()
    {
        var typed = ProtocolSchema.All.Values.SelectMany(p => p.Attributes.Select(a => (p.ElementName, a)))
            .Where(x => ValueCases.OutOfRangeValues(x.a).Any())
            .Select(x => $"range-{x.ElementName}-{x.a.Name}-")
            .Distinct()
            .ToList();
        Assert.True(typed.Count > 100, $"only {typed.Count} typed attributes found");
        Assert.All(typed, prefix => Assert.Contains(Cases.Keys, k => k.StartsWith(prefix, StringComparison.Ordinal)));
    }

    [Fact]
    public void NestingAtTheLimitIsReadAndOneDeeperIsRefused()
    {
        string Doc(int levels) => "<filter name='d'>" + string.Concat(Enumerable.Repeat("<x>", levels - 1)) + string.Concat(Enumerable.Repeat("</x>", levels - 1)) + "</filter>";
        // At the limit the document is read: the lenient reader only warns about the unknown <x>.
        var read = NwFilterXmlReader.ReadFilter(Doc(Limits.MaxElementDepth), XmlReadOptions.LenientDefault);
        Assert.Contains(read.Warnings, w => w.Code == XmlDiagnosticCodes.UnknownElement);
        var e = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadFilter(Doc(Limits.MaxElementDepth + 1), XmlReadOptions.LenientDefault));
        Assert.Equal(XmlDiagnosticCodes.NestingTooDeep, e.Primary.Code);
    }

    [Fact]
    public void ReferenceDepthAtTheLimitResolves()
    {
        var source = GraphCases.Chain(Limits.MaxReferenceDepth, closed: false);
        var resolution = FilterResolver.Resolve(source, "c0", ParameterSet.Empty);
        Assert.Equal(Limits.MaxReferenceDepth, resolution.Instances.Length);
    }

    [Fact]
    public void ListsAndProductsAtTheLimitResolve()
    {
        var top = TestSupport.Build.Filter("t", TestSupport.Build.Rule(RuleAction.Accept, RuleDirection.Out, ProtocolKind.Tcp, ("srcipaddr", "$A[@1]"), ("dstportstart", "$P[@2]")));
        var parameters = ParameterSet.FromPairs(
            Enumerable.Range(0, Limits.MaxListLength).Select(i => KeyValuePair.Create("A", $"10.1.{i >> 8}.{i & 255}"))
                .Concat(Enumerable.Range(1, Limits.MaxRuleInstances / Limits.MaxListLength).Select(i => KeyValuePair.Create("P", $"{i}"))));
        var watch = Stopwatch.StartNew();
        var resolution = FilterResolver.Resolve(new InMemoryFilterSource(top), top, parameters);
        Assert.Equal(Limits.MaxRuleInstances, resolution.Instances.Length);
        Assert.True(watch.Elapsed < HangGuard, $"took {watch.Elapsed.TotalMilliseconds:F0} ms");
        // Combinations keep libvirt's order: the first iterator fastest, across the whole product.
        Assert.Equal(["10.1.0.0", "10.1.0.1"], resolution.Instances.Take(2).Select(i => i.Rule[AttributeId.SrcIpAddr].Literal!.Text));
        Assert.Equal("10.1.3.231", resolution.Instances[^1].Rule[AttributeId.SrcIpAddr].Literal!.Text);
        Assert.Equal(("1", "10"), (resolution.Instances[0].Rule[AttributeId.DstPortStart].Literal!.Text, resolution.Instances[^1].Rule[AttributeId.DstPortStart].Literal!.Text));
    }

    [Fact]
    public void AStoreWithAFifoAndADeviceInItListsAtOnceAndReportsThem()
    {
        using var dir = new TestSupport.TempDirectory("nwfilter-trap");
        File.CreateSymbolicLink(dir.Combine("zero.xml"), "/dev/zero");
        Assert.Equal(0, Mkfifo(dir.Combine("fifo.xml")));
        var trapped = new FilterStore(dir.Path);
        var watch = Stopwatch.StartNew();
        var listing = trapped.List();
        Assert.True(watch.Elapsed < HangGuard, $"took {watch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(["fifo.xml", "zero.xml"], listing.Problems.Select(p => Path.GetFileName(p.Source!)).Order(StringComparer.Ordinal));
        Assert.All(listing.Problems, p => Assert.Contains("only regular files", p.Message, StringComparison.Ordinal));
        var e = Assert.Throws<NwFilterException>(() => _ = trapped.Get("zero"));
        Assert.Equal(StoreCodes.UnreadableFilterFile, e.Primary.Code);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mkfifo")]
    private static extern int Mkfifo([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, uint mode = 0x180);
}
