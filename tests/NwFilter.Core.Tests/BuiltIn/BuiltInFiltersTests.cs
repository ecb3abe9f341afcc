using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.BuiltIn;

public class BuiltInFiltersTests
{
    public static TheoryData<string> Names() => [.. BuiltInFilters.Names];

    public static TheoryData<string> LibvirtNames() => [.. BuiltInFilters.LibvirtNames];

    [Fact]
    public void ThereAreTheTwentyFourLibvirtShips()
    {
        Assert.Equal(24, BuiltInFilters.LibvirtNames.Length);
        Assert.Contains("clean-traffic", BuiltInFilters.Names);
        Assert.Contains("qemu-announce-self-rarp", BuiltInFilters.Names);
    }

    [SkippableFact]
    public void NamesAreExactlyLibvirtsFileNames()
    {
        var libvirt = Directory.GetFiles(Corpus.Path("src", "nwfilter", "xml"), "*.xml")
            .Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal);
        Assert.Equal(libvirt, BuiltInFilters.LibvirtNames);
    }

    [SkippableTheory]
    [MemberData(nameof(LibvirtNames))]
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

    [Fact]
    public void OurOwnFiltersAreTheDualStackSet()
    {
        Assert.Equal(
            ["nwfilter-clean-traffic-dual-stack", "nwfilter-no-dhcpv6-server", "nwfilter-no-ipv6-router-advertisement", "nwfilter-no-ipv6-spoofing", "nwfilter-no-ndp-spoofing", "nwfilter-no-ndp-spoofing-l3"],
            BuiltInFilters.OwnNames.ToArray());
        Assert.Equal(BuiltInFilters.Names.Length, BuiltInFilters.LibvirtNames.Length + BuiltInFilters.OwnNames.Length);
    }

    [Fact]
    public void TheNdpGuardBringsItsLayer3HalfInTheRootChain()
    {
        var guard = BuiltInFilters.Find("nwfilter-no-ndp-spoofing")!;
        Assert.Contains(guard.References, r => r.Filter == "nwfilter-no-ndp-spoofing-l3");
        var layer3 = BuiltInFilters.Find("nwfilter-no-ndp-spoofing-l3")!;
        // Root chain: libvirt orders the iptables-level rules of root-chain filters first, so the guard precedes a
        // user's own layer-3 rules; its rules are icmpv6 only, out only, and decide only NDP message types.
        Assert.Equal("root", layer3.Chain);
        Assert.All(layer3.Rules, r => Assert.Equal(Model.ProtocolKind.Icmpv6, r.Protocol));
        Assert.All(layer3.Rules, r => Assert.Equal(Model.RuleDirection.Out, r.Direction));
        Assert.Equal(6, layer3.Rules.Count());
    }

    [Fact]
    public void DualStackReferencesOnlyBuiltInsAndNeedsIpAndIpv6()
    {
        var filter = BuiltInFilters.Find("nwfilter-clean-traffic-dual-stack")!;
        Assert.All(filter.References, r => Assert.True(BuiltInFilters.Contains(r.Filter), r.Filter));
        Assert.Contains(filter.References, r => r.Filter == "no-ip-spoofing");
        Assert.Contains(filter.References, r => r.Filter == "nwfilter-no-ipv6-spoofing");
        Assert.Contains(filter.References, r => r.Filter == "nwfilter-no-ipv6-router-advertisement");
        Assert.Contains(filter.References, r => r.Filter == "nwfilter-no-dhcpv6-server");
        Assert.Contains(filter.References, r => r.Filter == "nwfilter-no-ndp-spoofing");
        Assert.DoesNotContain(filter.References, r => r.Filter == "no-ipv6-spoofing");
    }
}

/// <summary>IPV6_ROUTER: the RA guard of the dual-stack filter is left out for a VM that is a router, kept otherwise.</summary>
public class Ipv6RouterParameterTests
{
    private static readonly InMemoryFilterSource Source = new(BuiltInFilters.All);
    private static readonly System.Net.NetworkInformation.PhysicalAddress Mac = System.Net.NetworkInformation.PhysicalAddress.Parse("52-54-00-7B-35-93");

    private static NwFilter.Core.Model.ParameterSet Params(params (string Name, string Value)[] values) => Build.Params(values);

    private static string[] IcmpTypesDroppedOut(NwFilter.Core.Model.ParameterSet parameters) =>
        [.. NwFilter.Core.Resolution.FilterResolver.Resolve(Source, "nwfilter-clean-traffic-dual-stack", parameters, Mac, TestValues.Options).Instances
            .Where(i => i.Rule.Action == NwFilter.Core.Model.RuleAction.Drop && i.Rule.Protocol == NwFilter.Core.Model.ProtocolKind.Ipv6 && i.Rule[NwFilter.Core.Model.AttributeId.Type].IsPresent)
            .Select(i => i.Rule[NwFilter.Core.Model.AttributeId.Type].Literal!.Text).Order(StringComparer.Ordinal)];

    [Fact]
    public void WithoutTheParameterOrFalseRouterAdvertisementsAndRedirectsAreDropped()
    {
        // 133, 135 and 136 are the NDP guard's drops (after its returns for the guest's own addresses and MAC).
        Assert.Equal(["133", "134", "135", "136", "137"], IcmpTypesDroppedOut(Params(("IP", "10.0.0.5"), ("IPV6", "fd00::5"))));
        Assert.Equal(["133", "134", "135", "136", "137"], IcmpTypesDroppedOut(Params(("IP", "10.0.0.5"), ("IPV6", "fd00::5"), ("IPV6_ROUTER", "false"))));
    }

    [Fact]
    public void ARouterMaySendThemAndKeepsEveryOtherGuard()
    {
        var parameters = Params(("IP", "10.0.0.5"), ("IPV6", "fd00::5"), ("IPV6_ROUTER", "TRUE"));
        Assert.Equal(["133", "135", "136"], IcmpTypesDroppedOut(parameters));
        var instances = NwFilter.Core.Resolution.FilterResolver.Resolve(Source, "nwfilter-clean-traffic-dual-stack", parameters, Mac, TestValues.Options).Instances;
        Assert.DoesNotContain(instances, i => i.FilterName == "nwfilter-no-ipv6-router-advertisement");
        Assert.Contains(instances, i => i.FilterName == "nwfilter-no-dhcpv6-server");
        Assert.Contains(instances, i => i.FilterName == "nwfilter-no-ipv6-spoofing");
        Assert.Contains(instances, i => i.FilterName == "nwfilter-no-ndp-spoofing");
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("1")]
    public void AnotherValueIsAnErrorNamingIt(string value)
    {
        var e = Assert.Throws<NwFilterException>(() => NwFilter.Core.Resolution.FilterResolver.Resolve(Source, "nwfilter-clean-traffic-dual-stack",
            Params(("IP", "10.0.0.5"), ("IPV6", "fd00::5"), ("IPV6_ROUTER", value)), Mac, TestValues.Options));
        var d = Assert.Single(e.Diagnostics);
        Assert.Equal("InvalidIPv6Router", d.Code);
        Assert.Contains($"'{value}'", d.Message, StringComparison.Ordinal);
        Assert.Contains("IPV6_ROUTER", d.Message, StringComparison.Ordinal);
    }
}
