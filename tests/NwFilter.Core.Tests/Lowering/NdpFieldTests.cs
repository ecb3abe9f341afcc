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
/// NwFilter's own NDP fields of the ipv6 element and the layer-3 icmpv6 element (<c>ndtarget</c>, <c>ndlladdr</c>): how
/// they are read, refused and written. nftables tests them as raw transport-header payload (bridge and inet); ebtables
/// cannot, so a passing rule is written without them and a dropping rule is refused; ip6tables tests them with
/// <c>-m u32</c> from the IPv6 header. The kernel proof is the spoof matrix (Apply/SpoofMatrixTests).
/// </summary>
public class NdpFieldTests
{
    private const string Mac = "52:54:00:7b:35:93";

    private static IReadOnlyList<RuleInstance> Instances(string filterXml, params (string Name, string Value)[] parameters) =>
        FilterResolver.Resolve(NftTestFilters.Source, NwFilterXmlReader.ReadFilter(filterXml).Value!, Build.Params(parameters),
            PhysicalAddress.Parse(Mac.Replace(':', '-'))).Instances;

    private static string Rule(string action, string ipv6) =>
        $"<filter name='t' chain='ipv6-nd'><rule action='{action}' direction='out' priority='100'>{ipv6}</rule></filter>";

    private static string Layer3Rule(string action, string icmpv6, string direction = "out") =>
        $"<filter name='t' chain='root'><rule action='{action}' direction='{direction}' priority='100'>{icmpv6}</rule></filter>";

    private static string[] Ip6tables(IReadOnlyList<RuleInstance> instances) =>
        [.. DryRunRecorder.Run(EbIpTablesBackend.Instance.ApplyNewRules("vnet0", instances)).Select(c => c.ToString())
            .Where(c => c.StartsWith("ip6tables -w -A F", StringComparison.Ordinal) || c.StartsWith("ip6tables -w -A H", StringComparison.Ordinal))];

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
    public void OnIp6tablesAnAdvertisementsTargetAndMacAreU32TestsFromTheIpv6Header()
    {
        var rules = Ip6tables(Instances(Layer3Rule("return", "<icmpv6 type='136' ndtarget='fd00::5' ndlladdr='$MAC'/>")));
        // The copies of an out rule with an ICMP type: FJ (forwarded from the VM) and HJ (to the host), none in FP; each
        // the three link-layer cases. Payload length and next header 58 in one word, the target at 48..63, the option at 64.
        const string Target = "&&0x30=0xfd000000&&0x34=0x0&&0x38=0x0&&0x3c=0x5";
        string[] tests =
        [
            "0x4&0xffffff00=0x183a00" + Target,
            "0x4&0xffffff00=0x203a00" + Target + "&&0x40=0x2015254&&0x44=0x7b3593",
            "0x4&0xffffff00=0x203a00" + Target + "&&0x40>>0x18=0x0:0x1,0x3:0xff",
        ];
        Assert.Equal(string.Join('\n',
            [
                .. tests.Select(t => $"ip6tables -w -A FJ-vnet0 -p icmpv6 --icmpv6-type 136 -m u32 --u32 '{t}' -j RETURN"),
                .. tests.Select(t => $"ip6tables -w -A HJ-vnet0 -p icmpv6 --icmpv6-type 136 -m u32 --u32 '{t}' -j RETURN"),
            ]),
            string.Join('\n', rules));
    }

    [Fact]
    public void OnIp6tablesARouterSolicitationsOptionIsReadAfterItsEightByteHeader()
    {
        var rules = Ip6tables(Instances(Layer3Rule("return", "<icmpv6 type='133' ndlladdr='$MAC'/>")));
        Assert.Equal(string.Join('\n',
            [
                "ip6tables -w -A FJ-vnet0 -p icmpv6 --icmpv6-type 133 -m u32 --u32 '0x4&0xffffff00=0x83a00' -j RETURN",
                "ip6tables -w -A FJ-vnet0 -p icmpv6 --icmpv6-type 133 -m u32 --u32 '0x4&0xffffff00=0x103a00&&0x30=0x1015254&&0x34=0x7b3593' -j RETURN",
                "ip6tables -w -A FJ-vnet0 -p icmpv6 --icmpv6-type 133 -m u32 --u32 '0x4&0xffffff00=0x103a00&&0x30>>0x18=0x0,0x2:0xff' -j RETURN",
            ]),
            string.Join('\n', rules.Where(r => r.Contains("FJ-vnet0", StringComparison.Ordinal))));
    }

    [Fact]
    public void OnIp6tablesATargetAloneRequiresOnlyThatNoExtensionHeaderComesFirst()
    {
        // An accept: libvirt's state test follows the u32 test (and, NDP being untracked by conntrack, this rule never
        // matches on the kernel: the built-in guard uses return).
        var rules = Ip6tables(Instances(Layer3Rule("accept", "<icmpv6 type='135' ndtarget='fe80::5054:ff:fe7b:3593'/>")));
        Assert.Contains("ip6tables -w -A FJ-vnet0 -p icmpv6 --icmpv6-type 135 -m u32 --u32 '0x4&0xff00=0x3a00&&0x30=0xfe800000&&0x34=0x0&&0x38=0x505400ff&&0x3c=0xfe7b3593' -m conntrack --ctstate NEW,ESTABLISHED -j RETURN", rules);
    }

    [Theory]
    [InlineData("drop", "<icmpv6 type='136' ndtarget='fd00::5'/>", "ndtarget")]
    [InlineData("reject", "<icmpv6 type='135' ndlladdr='52:54:00:00:00:01'/>", "ndlladdr")]
    public void OnIp6tablesADroppingRuleIsRefusedNamingTheField(string action, string icmpv6, string attribute)
    {
        var instances = Instances(Layer3Rule(action, icmpv6));
        Assert.NotEmpty(NftRules(instances));
        var error = Assert.Throws<NwFilterException>(() => EbIpTablesBackend.Instance.ApplyNewRules("vnet0", instances));
        Assert.Equal(IptablesRuleText.IptablesNdpDropUnsupported, error.Primary.Code);
        Assert.Equal("icmpv6", error.Primary.Element);
        Assert.Equal(attribute, error.Primary.Attribute);
        Assert.Contains("extension headers", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnNftablesTheLayer3RuleGetsTheSamePayloadTestsInTheInetTable()
    {
        var compiled = NftablesCompiler.Compile("vnet0", Instances(Layer3Rule("return", "<icmpv6 type='136' ndtarget='fd00::5' ndlladdr='$MAC'/>")));
        var inet = compiled.Chains.Where(c => c.Family == NftFamily.Inet).SelectMany(c => c.Rules)
            .Select(r => $"{r.Match} {r.Verdict.Kind}".ToLowerInvariant()).Where(r => r.Contains("@th,64,128", StringComparison.Ordinal)).ToArray();
        const string Head = "meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type 136 @th,64,128 0xfd000000000000000000000000000005";
        // FI and HI, each the three link-layer cases of the bridge rules.
        Assert.Equal(6, inet.Length);
        Assert.Equal(2, inet.Count(r => r == Head + " ip6 length 24 return"));
        Assert.Equal(2, inet.Count(r => r == Head + " ip6 length 32 @th,192,16 0x0201 @th,208,48 0x5254007b3593 return"));
        Assert.Equal(2, inet.Count(r => r == Head + " ip6 length 32 @th,192,8 != 2 return"));
    }

    [Theory]
    [InlineData("<icmpv6 ndtarget='fd00::5'/>", "ndtarget")]
    [InlineData("<icmpv6 type='134' ndlladdr='52:54:00:00:00:01'/>", "ndlladdr")]
    [InlineData("<icmpv6 type='133' ndtarget='fd00::5'/>", "ndtarget")]
    [InlineData("<icmpv6 match='no' type='136' ndtarget='fd00::5'/>", "ndtarget")]
    public void ALayer3NdpFieldWithoutOneNdpTypeOrNegatedIsRefusedOnBothBackendsInEveryDirection(string icmpv6, string attribute)
    {
        // An inout rule with an ICMP type has no copy at all (libvirt's quirk): the refusal must not depend on one.
        foreach (var direction in new[] { "out", "in", "inout" })
        {
            var instances = Instances(Layer3Rule("return", icmpv6, direction));
            foreach (var compile in new Action[] { () => NftablesCompiler.Compile("vnet0", instances), () => EbIpTablesBackend.Instance.ApplyNewRules("vnet0", instances) })
            {
                var error = Assert.Throws<NwFilterException>(compile);
                Assert.Equal(LoweringCodes.NdFieldWithoutNdType, error.Primary.Code);
                Assert.Equal("icmpv6", error.Primary.Element);
                Assert.Equal(attribute, error.Primary.Attribute);
            }
        }
    }

    [Fact]
    public void TheDualStackFilterChecksNeighbourDiscoveryOnIp6tables()
    {
        var rules = Ip6tables(FilterResolver.Resolve(NftTestFilters.Source, "nwfilter-clean-traffic-dual-stack",
            Build.Params(("IP", "10.0.0.5"), ("IPV6", "fd00::5"), ("IPV6", "fe80::5054:ff:fe7b:3593")), PhysicalAddress.Parse(Mac.Replace(':', '-')), TestValues.Options).Instances);
        foreach (var chain in new[] { "FJ-vnet0", "HJ-vnet0" })
        {
            var own = rules.Where(r => r.StartsWith($"ip6tables -w -A {chain} ", StringComparison.Ordinal)).ToArray();
            // Per target address the three NA cases, then the NA drop; NS and RS: three cases and a drop each. Nothing else.
            Assert.Equal(2 * 3 + 1 + 4 + 4, own.Length);
            Assert.Equal(3, own.Count(r => r.Contains("--icmpv6-type 136 -m u32", StringComparison.Ordinal) && r.Contains("&&0x30=0xfd000000&&0x34=0x0&&0x38=0x0&&0x3c=0x5", StringComparison.Ordinal) && r.EndsWith("-j RETURN", StringComparison.Ordinal)));
            Assert.Equal(3, own.Count(r => r.Contains("--icmpv6-type 136 -m u32", StringComparison.Ordinal) && r.Contains("&&0x30=0xfe800000&&0x34=0x0&&0x38=0x505400ff&&0x3c=0xfe7b3593", StringComparison.Ordinal)));
            Assert.Equal(
                [$"ip6tables -w -A {chain} -p icmpv6 --icmpv6-type 136 -j DROP", $"ip6tables -w -A {chain} -p icmpv6 --icmpv6-type 135 -j DROP", $"ip6tables -w -A {chain} -p icmpv6 --icmpv6-type 133 -j DROP"],
                own.Where(r => r.EndsWith("-j DROP", StringComparison.Ordinal)));
            // The order: each message type's returns before its drop.
            Assert.True(Array.FindLastIndex(own, r => r.Contains("--icmpv6-type 136 -m u32", StringComparison.Ordinal)) < Array.IndexOf(own, $"ip6tables -w -A {chain} -p icmpv6 --icmpv6-type 136 -j DROP"));
            Assert.True(Array.FindLastIndex(own, r => r.Contains("--icmpv6-type 135 -m u32", StringComparison.Ordinal)) < Array.IndexOf(own, $"ip6tables -w -A {chain} -p icmpv6 --icmpv6-type 135 -j DROP"));
        }
        Assert.DoesNotContain(rules, r => r.Contains("FP-vnet0", StringComparison.Ordinal));
    }

    [Fact]
    public void TheDualStackFilterChecksNeighbourDiscoveryOnNftables()
    {
        var rules = NftRules(FilterResolver.Resolve(NftTestFilters.Source, "nwfilter-clean-traffic-dual-stack",
            Build.Params(("IP", "10.0.0.5"), ("IPV6", "fd00::5"), ("IPV6", "fe80::5054:ff:fe7b:3593")), PhysicalAddress.Parse(Mac.Replace(':', '-')), TestValues.Options).Instances);
        // The bridge rules (nwfilter-no-ndp-spoofing) and the same tests in the inet FI and HI chains
        // (nwfilter-no-ndp-spoofing-l3): three link-layer cases per target in each.
        foreach (var target in new[] { "0xfd000000000000000000000000000005", "0xfe80000000000000505400fffe7b3593" })
        {
            var tests = rules.Where(r => r.Contains("icmpv6 type 136", StringComparison.Ordinal) && r.Contains("@th,64,128 " + target, StringComparison.Ordinal)).ToArray();
            Assert.Equal(3, tests.Count(r => r.StartsWith("ether type ip6", StringComparison.Ordinal)));
            Assert.Equal(6, tests.Count(r => r.StartsWith("meta nfproto ipv6", StringComparison.Ordinal)));
            Assert.Equal(9, tests.Length);
        }
        Assert.Single(rules, r => r.EndsWith("icmpv6 type 136 icmpv6 code 0-255 drop", StringComparison.Ordinal));
        Assert.Equal(2, rules.Count(r => r == "meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type 136 drop"));
    }
}
