using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.Backends.Nftables;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Lowering;

/// <summary>
/// NwFilter's own NDP fields of the ipv6 element (<c>ndtarget</c>, <c>ndlladdr</c>): how they are read, refused and
/// written. nftables tests them as raw transport-header payload; ebtables cannot, so a passing rule is written without
/// them and a dropping rule is refused. The kernel proof is the spoof matrix (Apply/SpoofMatrixTests).
/// </summary>
public class NdpFieldTests
{
    private const string Mac = "52:54:00:7b:35:93";

    private static IReadOnlyList<RuleInstance> Instances(string filterXml, params (string Name, string Value)[] parameters) =>
        FilterResolver.Resolve(NftTestFilters.Source, NwFilterXmlReader.ReadFilter(filterXml).Value!, Build.Params(parameters),
            PhysicalAddress.Parse(Mac.Replace(':', '-'))).Instances;

    private static string Rule(string action, string ipv6) =>
        $"<filter name='t' chain='ipv6-nd'><rule action='{action}' direction='out' priority='100'>{ipv6}</rule></filter>";

    private static string[] NftRules(IReadOnlyList<RuleInstance> instances) =>
        [.. NftablesCompiler.Compile("vnet0", instances).Chains.SelectMany(c => c.Rules).Select(r => $"{r.Match} {r.Verdict.Kind}".ToLowerInvariant())];

    [Fact]
    public void NdTargetAndLinkLayerAddressBecomeRawPayloadTestsOnNftables()
    {
        var rules = NftRules(Instances(Rule("return", "<ipv6 protocol='icmpv6' type='136' ndtarget='fd00::5' ndlladdr='$MAC'/>")));
        var nd = rules.Where(r => r.Contains("@th,64,128", StringComparison.Ordinal)).ToArray();
        // No option, the target link-layer option (type 2, length 1) with the MAC, or one option of another type.
        Assert.Equal(3, nd.Length);
        Assert.All(nd, r => Assert.Contains("icmpv6 type 136", r, StringComparison.Ordinal));
        Assert.All(nd, r => Assert.Contains("@th,64,128 0xfd000000000000000000000000000005", r, StringComparison.Ordinal));
        Assert.Contains(nd, r => r.Contains("ip6 length 24 return", StringComparison.Ordinal));
        Assert.Contains(nd, r => r.Contains("ip6 length 32 @th,192,16 0x0201 @th,208,48 0x5254007b3593 return", StringComparison.Ordinal));
        Assert.Contains(nd, r => r.Contains("ip6 length 32 @th,192,8 != 2 return", StringComparison.Ordinal));
    }

    [Fact]
    public void ARouterSolicitationsOptionIsReadAfterItsEightByteHeader()
    {
        var rules = NftRules(Instances(Rule("return", "<ipv6 protocol='icmpv6' type='133' ndlladdr='$MAC'/>")));
        Assert.Contains(rules, r => r.Contains("icmpv6 type 133", StringComparison.Ordinal) && r.Contains("ip6 length 8 return", StringComparison.Ordinal));
        Assert.Contains(rules, r => r.Contains("ip6 length 16 @th,64,16 0x0101 @th,80,48 0x5254007b3593 return", StringComparison.Ordinal));
    }

    [Fact]
    public void AListOfTargetsGivesOneTestPerAddress()
    {
        var rules = NftRules(Instances(Rule("return", "<ipv6 protocol='icmpv6' type='136' ndtarget='$IPV6'/>"), ("IPV6", "fd00::5"), ("IPV6", "fd00::6")));
        Assert.Single(rules, r => r.Contains("@th,64,128 0xfd000000000000000000000000000005 return", StringComparison.Ordinal));
        Assert.Single(rules, r => r.Contains("@th,64,128 0xfd000000000000000000000000000006 return", StringComparison.Ordinal));
    }

    [Fact]
    public void OnEbtablesAPassingRuleIsWrittenWithoutTheNdpTest()
    {
        var commands = DryRunRecorder.Run(EbIpTablesBackend.Instance.ApplyNewRules("vnet0",
                Instances(Rule("return", "<ipv6 protocol='icmpv6' type='136' ndtarget='fd00::5' ndlladdr='$MAC'/>"))))
            .Select(c => c.ToString()).Where(c => c.Contains("--ip6-icmp-type", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(commands);
        Assert.All(commands, c => Assert.EndsWith("--ip6-icmp-type 136:136/0:255 -j RETURN", c, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("<ipv6 protocol='icmpv6' type='136' ndtarget='fd00::5'/>", "ndtarget")]
    [InlineData("<ipv6 protocol='icmpv6' type='135' ndlladdr='52:54:00:00:00:01'/>", "ndlladdr")]
    public void OnEbtablesADroppingRuleIsRefusedNamingTheField(string ipv6, string attribute)
    {
        var instances = Instances(Rule("drop", ipv6));
        Assert.NotEmpty(NftRules(instances));
        var error = Assert.Throws<NwFilterException>(() => EbIpTablesBackend.Instance.ApplyNewRules("vnet0", instances));
        Assert.Equal(EbtablesRuleText.EbtablesNdpUnsupported, error.Primary.Code);
        Assert.Equal(attribute, error.Primary.Attribute);
        Assert.Contains("nftables", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<ipv6 protocol='icmpv6' ndtarget='fd00::5'/>", "ndtarget")]
    [InlineData("<ipv6 protocol='icmpv6' type='135' typeend='136' ndtarget='fd00::5'/>", "ndtarget")]
    [InlineData("<ipv6 protocol='icmpv6' type='134' ndlladdr='52:54:00:00:00:01'/>", "ndlladdr")]
    [InlineData("<ipv6 protocol='icmpv6' type='133' ndtarget='fd00::5'/>", "ndtarget")]
    [InlineData("<ipv6 match='no' protocol='icmpv6' type='136' ndtarget='fd00::5'/>", "ndtarget")]
    [InlineData("<ipv6 match='no' protocol='icmpv6' type='136' ndlladdr='52:54:00:00:00:01'/>", "ndlladdr")]
    public void AnNdpFieldWithoutOneNdpTypeOrNegatedIsRefusedOnBothBackends(string ipv6, string attribute)
    {
        var instances = Instances(Rule("return", ipv6));
        foreach (var compile in new Action[] { () => NftablesCompiler.Compile("vnet0", instances), () => EbIpTablesBackend.Instance.ApplyNewRules("vnet0", instances) })
        {
            var error = Assert.Throws<NwFilterException>(compile);
            Assert.Equal(LoweringCodes.NdFieldWithoutNdType, error.Primary.Code);
            Assert.Equal("ipv6", error.Primary.Element);
            Assert.Equal(attribute, error.Primary.Attribute);
        }
    }

    [Theory]
    [InlineData("ndtarget='10.0.0.1'", "ndtarget")]
    [InlineData("ndlladdr='fd00::1'", "ndlladdr")]
    public void ABadValueIsRefusedWhenTheFilterIsRead(string attributeText, string attribute)
    {
        var error = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadFilter(Rule("return", $"<ipv6 protocol='icmpv6' type='136' {attributeText}/>")));
        Assert.Equal(attribute, error.Primary.Attribute);
    }

    [Fact]
    public void TheDualStackFilterChecksNeighbourDiscoveryOnNftables()
    {
        var rules = NftRules(FilterResolver.Resolve(NftTestFilters.Source, "nwfilter-clean-traffic-dual-stack",
            Build.Params(("IP", "10.0.0.5"), ("IPV6", "fd00::5"), ("IPV6", "fe80::5054:ff:fe7b:3593")), PhysicalAddress.Parse(Mac.Replace(':', '-')), TestValues.Options).Instances);
        Assert.Equal(3, rules.Count(r => r.Contains("icmpv6 type 136", StringComparison.Ordinal) && r.Contains("@th,64,128 0xfd000000000000000000000000000005", StringComparison.Ordinal)));
        Assert.Equal(3, rules.Count(r => r.Contains("icmpv6 type 136", StringComparison.Ordinal) && r.Contains("@th,64,128 0xfe80000000000000505400fffe7b3593", StringComparison.Ordinal)));
        Assert.Single(rules, r => r.EndsWith("icmpv6 type 136 icmpv6 code 0-255 drop", StringComparison.Ordinal));
    }
}
