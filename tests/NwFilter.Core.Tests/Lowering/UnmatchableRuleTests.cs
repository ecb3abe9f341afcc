using System.Net.NetworkInformation;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.Backends.Nftables;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Lowering;

/// <summary>
/// Rules no firewall can match, found by the nft-script fuzz target (tests/NwFilter.Fuzz; bench/README.md, Fuzzing):
/// nft refused the whole transaction ("Range has zero or negative size", "conflicting protocols specified"), and
/// ebtables/iptables refuse such rules when they are added. The lowering refuses them once for both backends, with the
/// attribute named, before any firewall sees them.
/// </summary>
public class UnmatchableRuleTests
{
    [Theory]
    [InlineData("<stp hello-time='53077' hello-time-hi='49289'/>", "stp", "hello-time-hi")]
    [InlineData("<tcp srcportstart='2000' srcportend='1000'/>", "tcp", "srcportend")]
    [InlineData("<tcp srcipfrom='10.0.0.9' srcipto='10.0.0.1'/>", "tcp", "srcipto")]
    [InlineData("<ip srcportstart='2000' srcportend='1999' protocol='udp'/>", "ip", "srcportend")]
    [InlineData("<ipv6 protocol='tcp' srcportstart='2000' srcportend='1000'/>", "ipv6", "srcportend")]
    [InlineData("<ipv6 protocol='icmpv6' type='10' typeend='5'/>", "ipv6", "typeend")]
    [InlineData("<ipv6 protocol='icmpv6' code='3' codeend='2'/>", "ipv6", "codeend")]
    public void AReversedRangeIsRefusedOnBothBackendsNamingItsEnd(string protocol, string element, string attribute)
    {
        foreach (var e in BothBackends(protocol))
        {
            Assert.Equal(LoweringCodes.RangeReversed, e.Primary.Code);
            Assert.Equal(element, e.Primary.Element);
            Assert.Equal(attribute, e.Primary.Attribute);
        }
    }

    [Theory]
    [InlineData("<ipv6 protocol='esp' type='207'/>", "esp")]
    [InlineData("<ipv6 protocol='udp' type='1'/>", "udp")]
    public void AnIcmpv6TypeUnderAnotherProtocolIsRefusedOnBothBackends(string protocol, string value)
    {
        foreach (var e in BothBackends(protocol))
        {
            Assert.Equal(LoweringCodes.IcmpWithoutIcmpProtocol, e.Primary.Code);
            Assert.Equal("protocol", e.Primary.Attribute);
            Assert.Equal(value, e.Primary.Value);
        }
    }

    [Theory]
    [InlineData("<tcp srcportstart='1000' srcportend='1000'/>")]
    [InlineData("<tcp srcipfrom='10.0.0.1' srcipto='10.0.0.9'/>")]
    [InlineData("<ipv6 protocol='icmpv6' type='5' typeend='10'/>")]
    [InlineData("<ipv6 type='133'/>")]
    [InlineData("<stp hello-time='10' hello-time-hi='20'/>")]
    public void ARangeInOrderAndAnIcmpv6TypeWithoutProtocolStillCompile(string protocol) => Assert.Empty(BothBackends(protocol));

    /// <summary>The refusal of each backend's compile (none when it compiles).</summary>
    private static List<NwFilterException> BothBackends(string protocol)
    {
        var filter = NwFilterXmlReader.ReadFilter($"<filter name='fuzz'><rule action='drop' direction='out'>{protocol}</rule></filter>").Value!;
        var instances = FilterResolver.Resolve(NftTestFilters.Source, filter, ParameterSet.Empty, PhysicalAddress.Parse("52-54-00-00-00-02")).Instances;
        var refusals = new List<NwFilterException>();
        try
        {
            NftablesCompiler.Compile("vnet0", instances);
        }
        catch (NwFilterException e)
        {
            refusals.Add(e);
        }
        try
        {
            EbIpTablesBackend.Instance.ApplyNewRules("vnet0", instances);
        }
        catch (NwFilterException e)
        {
            refusals.Add(e);
        }
        Assert.True(refusals.Count is 0 or 2, $"only one backend refused: {string.Join("; ", refusals.Select(r => r.Message))}");
        return refusals;
    }
}
