using NwFilter.Core.BuiltIn;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.BuiltIn;

public class BuiltInFiltersTests
{
    public static TheoryData<string> Names() => [.. BuiltInFilters.Names];

    [Fact]
    public void ThereAreTheTwentyFourLibvirtShips()
    {
        Assert.Equal(24, BuiltInFilters.Names.Length);
        Assert.Contains("clean-traffic", BuiltInFilters.Names);
        Assert.Contains("qemu-announce-self-rarp", BuiltInFilters.Names);
    }

    [SkippableFact]
    public void NamesAreExactlyLibvirtsFileNames()
    {
        var libvirt = Directory.GetFiles(Corpus.Path("src", "nwfilter", "xml"), "*.xml")
            .Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal);
        Assert.Equal(libvirt, BuiltInFilters.Names);
    }

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void CanonicalXmlEqualsLibvirtsUuidAside(string name)
    {
        var libvirt = NwFilterXmlReader.ReadFilter(File.ReadAllText(Corpus.Path("src", "nwfilter", "xml", name + ".xml"))).Value;
        var ours = BuiltInFilters.Find(name)!;
        Assert.Equal(NwFilterXmlWriter.Write(libvirt with { Uuid = ours.Uuid }), NwFilterXmlWriter.Write(ours));
    }

    [SkippableFact]
    public void CanonicalXmlEqualsLibvirtsLiveDumpUuidAside()
    {
        var dump = Corpus.Path("live-9.0", "00-all-builtin-filters.dumpxml.txt");
        var documents = LibvirtFilterFiles.ReadDocuments(File.ReadAllText(dump), dump);
        Assert.Equal(24, documents.Length);
        foreach (var doc in documents)
        {
            Assert.True(doc.Succeeded, string.Join("; ", doc.Diagnostics));
            if (doc.Filter!.Name == "clean-traffic-gateway")
            {
                // libvirt 9.0 shipped an older version whose last filterref is qemu-announce-self; current libvirt
                // (the source compared above) refers to qemu-announce-self-rarp, as ours does.
                Assert.Equal("qemu-announce-self", doc.Filter.References.Last().Filter);
                continue;
            }
            var ours = BuiltInFilters.Find(doc.Filter!.Name);
            Assert.NotNull(ours);
            Assert.Equal(NwFilterXmlWriter.Write(doc.Filter with { Uuid = ours.Uuid }), NwFilterXmlWriter.Write(ours));
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void UuidIsNameBasedAndStable(string name)
    {
        var filter = BuiltInFilters.Find(name)!;
        Assert.Equal(name, filter.Name);
        Assert.Equal(NameBasedUuid.Create(NameBasedUuid.BuiltInFilterNamespace, name), filter.Uuid);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SourceIsOurOwnAndCarriesNoUuid(string name)
    {
        var source = BuiltInFilters.GetSource(name)!;
        Assert.StartsWith("<!-- NwFilter built-in:", source, StringComparison.Ordinal);
        Assert.DoesNotContain("<uuid>", source, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownNamesAreNotBuiltIn()
    {
        Assert.Null(BuiltInFilters.Find("nope"));
        Assert.Null(BuiltInFilters.GetSource("nope"));
        Assert.False(BuiltInFilters.Contains("Clean-Traffic"));
    }
}
