using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using static NwFilter.Core.Lowering.LoweredChain;
using static NwFilter.Core.Lowering.MatchField;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Lowering;

/// <summary>Each of libvirt's semantic decisions, once, for both directions: what the lowering gives both backends.</summary>
public class RuleLoweringTests
{
    private static LoweredPort Lower(FilterDefinition top, params FilterDefinition[] others) =>
        RuleLowering.Lower(FilterResolver.Resolve(new InMemoryFilterSource(others), top, ParameterSet.Empty).Instances);

    private static LoweredPort Lower(params FilterRule[] rules) => Lower(Filter("f", rules));

    private static List<LoweredRule> Rules(LoweredPort port) => [.. port.Rules];

    /// <summary>A copy as "Chain field=value ... -> verdict" (negation as "!=").</summary>
    private static string Text(LoweredRule rule) =>
        string.Join(' ', [rule.Chain.ToString(), .. rule.Matches.Select(m => $"{m.Field}{(m.Negated ? "!=" : "=")}{m.Value.Text}{(m.Extra is { } e ? "/" + e.Text : "")}"),
            .. rule.State is { } s ? [$"state={s.States}:{s.Direction}"] : System.Array.Empty<string>(), "->", rule.Verdict.ToString()]);

    private static List<string> Texts(LoweredPort port) => [.. port.Rules.Select(Text)];

    [Fact]
    public void AnEthernetRuleGoesFromTheVmForOutToTheVmForInAndBothForInoutWithTheFromVmCopyReversed()
    {
        (string, string)[] macs = [("srcmacaddr", "01:02:03:04:05:06"), ("dstmacaddr", "aa:bb:cc:dd:ee:ff")];
        Assert.Equal(["FromVm SourceMac=01:02:03:04:05:06 DestinationMac=aa:bb:cc:dd:ee:ff -> Drop"], Texts(Lower(Rule(Drop, Out, Mac, macs))));
        Assert.Equal(["ToVm SourceMac=01:02:03:04:05:06 DestinationMac=aa:bb:cc:dd:ee:ff -> Drop"], Texts(Lower(Rule(Drop, In, Mac, macs))));
        // Reversed in place: the srcmacaddr attribute stays first and now tests the destination.
        var inout = Lower(Rule(Drop, InOut, Mac, macs));
        Assert.Equal(
        [
            "FromVm DestinationMac=01:02:03:04:05:06 SourceMac=aa:bb:cc:dd:ee:ff -> Drop",
            "ToVm SourceMac=01:02:03:04:05:06 DestinationMac=aa:bb:cc:dd:ee:ff -> Drop",
        ], Texts(inout));
        Assert.Equal([true, false], Rules(inout).Select(r => r.Reversed));
        Assert.True(inout.HasFromVm && inout.HasToVm);
    }

    [Fact]
    public void AReversedEthernetCopySwapsIpAddressesPortsAndArpAddressesKeepingTheirMasks()
    {
        var ip = Rules(Lower(Rule(Accept, InOut, Ip, ("srcipaddr", "10.0.0.1"), ("srcipmask", "24"), ("dstipaddr", "!10.0.1.1"),
            ("protocol", "tcp"), ("srcportstart", "1000"), ("srcportend", "2000"), ("dstportstart", "22"))));
        Assert.Equal("FromVm DestinationIp=10.0.0.1/24 SourceIp!=10.0.1.1 IpProtocol=tcp DestinationPort=1000/2000 SourcePort=22 -> Accept", Text(ip[0]));
        Assert.Equal("ToVm SourceIp=10.0.0.1/24 DestinationIp!=10.0.1.1 IpProtocol=tcp SourcePort=1000/2000 DestinationPort=22 -> Accept", Text(ip[1]));

        var arp = Rules(Lower(Rule(Accept, InOut, Arp, ("arpsrcipaddr", "10.0.0.1"), ("arpsrcmacaddr", "52:54:00:00:00:01"))));
        Assert.Equal("FromVm ArpDestinationIp=10.0.0.1 ArpDestinationMac=52:54:00:00:00:01 -> Accept", Text(arp[0]));
        Assert.Equal("ToVm ArpSourceIp=10.0.0.1 ArpSourceMac=52:54:00:00:00:01 -> Accept", Text(arp[1]));
    }

    [Fact]
    public void AnArpDestinationIpReusesTheSourceMaskOnlyAfterASourceIp()
    {
        // ebtablesCreateRuleInstance sets hasMask while printing the source IP; without a source IP the destination is /32.
        var withSource = Rules(Lower(Rule(Accept, Out, Arp, ("arpsrcipaddr", "10.0.0.1"), ("arpsrcipmask", "16"), ("arpdstipaddr", "10.1.0.0"))));
        Assert.Equal("FromVm ArpSourceIp=10.0.0.1/16 ArpDestinationIp=10.1.0.0/16 -> Accept", Text(withSource[0]));
        var withoutSource = Rules(Lower(Rule(Accept, In, Arp, ("arpsrcipmask", "16"), ("arpdstipaddr", "10.1.0.0"))));
        Assert.Equal("ToVm ArpDestinationIp=10.1.0.0 -> Accept", Text(withoutSource[0]));
        var own = Rules(Lower(Rule(Accept, Out, Arp, ("arpsrcipaddr", "10.0.0.1"), ("arpsrcipmask", "16"), ("arpdstipaddr", "10.1.2.0"), ("arpdstipmask", "24"))));
        Assert.Equal("FromVm ArpSourceIp=10.0.0.1/16 ArpDestinationIp=10.1.2.0/24 -> Accept", Text(own[0]));
    }

    [Fact]
    public void RejectIsDropAtTheEthernetLayerAndStaysRejectAtLayerFour()
    {
        Assert.Equal([LoweredVerdict.Drop, LoweredVerdict.Drop], Rules(Lower(Rule(Reject, InOut, Arp))).Select(r => r.Verdict));
        Assert.Equal([LoweredVerdict.Reject, LoweredVerdict.Reject, LoweredVerdict.Reject], Rules(Lower(Rule(Reject, In, Udp))).Select(r => r.Verdict));
        Assert.Equal([LoweredVerdict.Continue], Rules(Lower(Rule(Continue, Out, Mac))).Select(r => r.Verdict));
    }

    [Fact]
    public void ALayerFourRuleHasThreeCopiesTheOneFacingItsDirectionNewAndTheRepliesEstablished()
    {
        Assert.Equal(
        [
            "ForwardFromVm DestinationPort=22 state=NEW,ESTABLISHED:Original -> Return",
            "ForwardToVm SourcePort=22 state=ESTABLISHED:Reply -> Accept",
            "HostFromVm DestinationPort=22 state=NEW,ESTABLISHED:Original -> Return",
        ], Texts(Lower(Rule(Accept, Out, Tcp, ("dstportstart", "22")))));
        Assert.Equal(
        [
            "ForwardFromVm SourcePort=22 state=ESTABLISHED:Reply -> Return",
            "ForwardToVm DestinationPort=22 state=NEW,ESTABLISHED:Original -> Accept",
            "HostFromVm SourcePort=22 state=ESTABLISHED:Reply -> Return",
        ], Texts(Lower(Rule(Accept, In, Tcp, ("dstportstart", "22")))));
        // inout: no state at all; the FJ copy is the reversed one, as for in.
        Assert.Equal(
        [
            "ForwardFromVm SourceIp=10.0.0.9 -> Return",
            "ForwardToVm DestinationIp=10.0.0.9 -> Accept",
            "HostFromVm SourceIp=10.0.0.9 -> Return",
        ], Texts(Lower(Rule(Accept, InOut, All, ("dstipaddr", "10.0.0.9")))));
    }

    [Fact]
    public void ANonAcceptRuleOnTheDefaultPathLosesItsStateButStatematchFalseHasNoneAnyway()
    {
        Assert.All(Rules(Lower(Rule(Drop, Out, Tcp, ("dstportstart", "22")))), r => Assert.Null(r.State));
        Assert.All(Rules(Lower(Rule(Drop, In, Udp, ("dstportstart", "53")))), r => Assert.Null(r.State));
        var noState = new FilterRule(Accept, Out, Tcp) { StateMatch = false };
        Assert.All(Rules(Lower(noState)), r => Assert.Null(r.State));
    }

    [Fact]
    public void AnExplicitStateChoosesCopiesByDirectionKeepsItsStatesOnDropAndHasNoDirectionTest()
    {
        Assert.Equal(
        [
            "ForwardFromVm state=NEW,RELATED:Any -> Drop",
            "HostFromVm state=NEW,RELATED:Any -> Drop",
        ], Texts(Lower(Rule(Drop, Out, Tcp, ("state", "RELATED,NEW")))));
        Assert.Equal(["ForwardToVm state=ESTABLISHED:Any -> Accept"], Texts(Lower(Rule(Accept, In, Tcp, ("state", "ESTABLISHED")))));
        Assert.Equal(3, Rules(Lower(Rule(Accept, InOut, Tcp, ("state", "ESTABLISHED")))).Count);
        Assert.All(Rules(Lower(Rule(Accept, Out, All, ("state", "NONE")))), r => Assert.Null(r.State));
    }

    [Fact]
    public void ConnlimitDropsTheReversedCopiesAndTheStateOfTheOthers()
    {
        Assert.Equal(
        [
            "ForwardFromVm -> Drop",
            "HostFromVm -> Drop",
        ], Texts(Lower(Rule(Drop, Out, Tcp, ("connlimit-above", "2")))));
        Assert.Equal(["ForwardToVm -> Accept"], Texts(Lower(Rule(Accept, In, Tcp, ("connlimit-above", "!4")))));
        var copy = Rules(Lower(Rule(Accept, In, Tcp, ("connlimit-above", "!4"))))[0];
        Assert.Equal((4UL, true), (copy.Connlimit!.Above.Number, copy.Connlimit.Negated));
    }

    [Fact]
    public void AnIcmpTypeDropsTheCopiesFacingTheOtherWayAndItsCopiesHaveNoDirectionTest()
    {
        Assert.Equal(
        [
            "ForwardFromVm IcmpType=8/0 state=NEW,ESTABLISHED:Any -> Return",
            "HostFromVm IcmpType=8/0 state=NEW,ESTABLISHED:Any -> Return",
        ], Texts(Lower(Rule(Accept, Out, Icmp, ("type", "8"), ("code", "0")))));
        Assert.Equal(["ForwardToVm IcmpType!=8 state=NEW,ESTABLISHED:Any -> Accept"], Texts(Lower(Rule(Accept, In, Icmp, ("type", "!8")))));
    }

    [Fact]
    public void SrcMacAddrOnlyMatchesInNonReversedCopiesAndACopyLeftWithNothingIsDropped()
    {
        Assert.Equal(
        [
            "ForwardFromVm SourceMac=52:54:00:00:00:01 state=NEW,ESTABLISHED:Original -> Return",
            "HostFromVm SourceMac=52:54:00:00:00:01 state=NEW,ESTABLISHED:Original -> Return",
        ], Texts(Lower(Rule(Accept, Out, Tcp, ("srcmacaddr", "52:54:00:00:00:01")))));
        Assert.Equal(
        [
            "ForwardFromVm DestinationPort=80 state=ESTABLISHED:Reply -> Return",
            "ForwardToVm SourceMac=52:54:00:00:00:01 SourcePort=80 state=NEW,ESTABLISHED:Original -> Accept",
            "HostFromVm DestinationPort=80 state=ESTABLISHED:Reply -> Return",
        ], Texts(Lower(Rule(Accept, In, Tcp, ("srcmacaddr", "52:54:00:00:00:01"), ("srcportstart", "80")))));
    }

    [Fact]
    public void IpsetFlagsSwapInAReversedCopy()
    {
        var copies = Rules(Lower(Rule(Drop, Out, Tcp, ("ipset", "blocked"), ("ipsetflags", "src,dst"))));
        Assert.Equal(["src,dst", "dst,src", "src,dst"], copies.Select(c => c.IpSet!.Flags));
        Assert.Equal([false, true, false], copies.Select(c => c.Reversed));
    }

    [Fact]
    public void TheDscpOfAnEthernetIpRuleTestsTheWholeTosByteAndALayerFourDscpTheDscpBits()
    {
        Assert.Equal([TosByte], Rules(Lower(Rule(Accept, Out, Ip, ("dscp", "2"))))[0].Matches.Select(m => m.Field));
        Assert.Equal([Dscp], Rules(Lower(Rule(Accept, Out, Udp, ("dscp", "2"))))[0].Matches.Select(m => m.Field));
    }

    [Fact]
    public void Icmpv6SpansDefaultTheMissingStartToZeroAndTheMissingEndToTheStartOr255()
    {
        Assert.Equal(new Icmpv6Span(128, 128, 0, 255, false), Rules(Lower(Rule(Accept, Out, Ipv6, ("type", "128"))))[0].Icmpv6);
        Assert.Equal(new Icmpv6Span(0, 255, 1, 3, false), Rules(Lower(Rule(Accept, In, Ipv6, ("code", "1"), ("codeend", "3"))))[0].Icmpv6);
        // The type's negation covers type and code together.
        Assert.Equal(new Icmpv6Span(1, 4, 0, 255, true), Rules(Lower(Rule(Accept, In, Ipv6, ("type", "!1"), ("typeend", "4"))))[0].Icmpv6);
        Assert.Null(Rules(Lower(Rule(Accept, In, Ipv6)))[0].Icmpv6);
    }

    [Fact]
    public void AnInoutStpRuleWithASourceMacIsRefusedAsLibvirtDoes()
    {
        var e = Assert.Throws<NwFilterException>(() => Lower(Rule(Drop, InOut, Stp, ("srcmacaddr", "52:54:00:00:00:01"))));
        Assert.Equal("StpInOutWithSourceMac", e.Primary.Code);
        Assert.Equal(2, Rules(Lower(Rule(Drop, InOut, Stp, ("type", "0")))).Count);
    }

    [Fact]
    public void SubChainsAreCreatedJustBeforeTheFirstRuleThatReachesTheirPriorityFromVmFirst()
    {
        var arp = Filter("arp-f", "arp", -500, Rule(Accept, InOut, Arp, ("opcode", "Request")));
        var ipv4 = Filter("ip-f", "ipv4", -700, Rule(Accept, Out, Ip, ("protocol", "udp")));
        var top = Filter("top", Rule(Accept, Out, Mac, -600, ("protocolid", "ipv4")), Ref("arp-f"), Ref("ip-f"), Rule(Drop, Out, None, 1000));
        var steps = Lower(top, arp, ipv4).Ethernet.Select(s => s switch
        {
            SubChainJump j => $"jump {j.Root}-{j.Suffix} {j.Protocol}",
            LoweredRule r => $"{r.Chain}/{r.ChainSuffix} {r.Origin.FilterName}",
            _ => throw new InvalidOperationException(),
        });
        Assert.Equal(
        [
            "jump FromVm-ipv4 Ipv4",
            "FromVm/root top",
            "jump FromVm-arp Arp",
            "jump ToVm-arp Arp",
            "FromVm/root top",
            "FromVm/arp arp-f",
            "ToVm/arp arp-f",
            "FromVm/ipv4 ip-f",
        ], steps);
    }

    [Fact]
    public void EachCopyKnowsItsRuleInstanceByOrdinalFilterPriorityChainAndCombination()
    {
        var filter = Filter("f", Rule(Accept, Out, Mac, 300, ("srcmacaddr", "$M")), Rule(Accept, Out, Udp, 700));
        var resolution = FilterResolver.Resolve(new InMemoryFilterSource([]), filter, ParameterSet.Empty.With("M", ["52:54:00:00:00:01", "52:54:00:00:00:02"]));
        var port = RuleLowering.Lower(resolution.Instances);
        Assert.Equal([(0, 300, 0), (1, 300, 1)], port.Ethernet.OfType<LoweredRule>().Select(r => (r.Origin.Ordinal, r.Origin.RulePriority, r.Origin.Combination)));
        Assert.All(port.Layer4, r => Assert.Equal((2, "f", "root", 700), (r.Origin.Ordinal, r.Origin.FilterName, r.Origin.ChainSuffix, r.Origin.RulePriority)));
        Assert.Same(resolution.Instances[2], port.Layer4[0].Origin.Instance);
    }
}
