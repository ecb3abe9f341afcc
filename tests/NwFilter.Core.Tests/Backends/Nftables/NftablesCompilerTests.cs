using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>Rule by rule: what the nft compiler writes, and what it refuses.</summary>
public class NftablesCompilerTests
{
    private static NftPortRuleset Compile(FilterDefinition top, params FilterDefinition[] others) =>
        NftablesCompiler.Compile("vnet0", FilterResolver.Resolve(new InMemoryFilterSource(others), top, ParameterSet.Empty).Instances);

    /// <summary>A chain's rules as text, each comment reduced to the rule's own comment (the provenance is NftProvenanceTests').</summary>
    private static List<string> Rules(NftPortRuleset ruleset, string role) =>
        [.. ruleset.Find(role)!.Rules.Select(r => (r with { Comment = NftProvenance.TryParse(r.Comment, out var p) ? p!.UserComment : r.Comment }).ToText(x => "<" + x + ">"))];

    [Fact]
    public void AnOutgoingTcpRuleGivesLibvirtsThreeCopiesWithStateAndDirection()
    {
        var ruleset = Compile(Filter("f", Rule(Accept, Out, Tcp, ("dstportstart", "22"))));
        Assert.Equal(["meta nfproto ipv4 meta l4proto tcp tcp dport 22 ct state new,established ct direction original return"], Rules(ruleset, "FI"));
        Assert.Equal(["meta nfproto ipv4 meta l4proto tcp tcp sport 22 ct state established ct direction reply accept"], Rules(ruleset, "FO"));
        Assert.Equal(["meta nfproto ipv4 meta l4proto tcp tcp dport 22 ct state new,established ct direction original return"], Rules(ruleset, "HI"));
        Assert.Null(ruleset.Find("I"));
    }

    [Fact]
    public void AnInoutEthernetRuleIsReversedInTheFromVmCopyOnly()
    {
        var ruleset = Compile(Filter("f", Rule(Drop, InOut, Mac, ("srcmacaddr", "01:02:03:04:05:06"), ("dstmacaddr", "aa:bb:cc:dd:ee:ff"))));
        Assert.Equal(["ether daddr 01:02:03:04:05:06 ether saddr aa:bb:cc:dd:ee:ff drop"], Rules(ruleset, "I"));
        Assert.Equal(["ether saddr 01:02:03:04:05:06 ether daddr aa:bb:cc:dd:ee:ff drop"], Rules(ruleset, "O"));
    }

    [Fact]
    public void MasksAreAppliedToTheValueAsTheKernelModulesDo()
    {
        var ruleset = Compile(Filter("f",
            Rule(Accept, Out, Mac, ("srcmacaddr", "!52:54:00:12:34:56"), ("srcmacmask", "ff:ff:ff:00:00:00")),
            Rule(Accept, Out, Ip, ("srcipaddr", "10.1.2.3"), ("srcipmask", "22")),
            Rule(Accept, Out, TcpIpv6, ("srcipaddr", "fd00::1:2"), ("srcipmask", "64"))));
        Assert.Equal(
        [
            "ether saddr and ff:ff:ff:00:00:00 != 52:54:00:00:00:00 accept",
            "ether type ip ip saddr 10.1.0.0/22 accept",
        ], Rules(ruleset, "I"));
        Assert.StartsWith("meta nfproto ipv6 meta l4proto tcp ip6 saddr fd00::/64 ", Rules(ruleset, "FI")[0], StringComparison.Ordinal);
    }

    [Fact]
    public void RejectIsDropAtTheBridgeAndRejectInTheInetTable()
    {
        var ruleset = Compile(Filter("f", Rule(Reject, Out, Arp), Rule(Reject, Out, Udp), Rule(Continue, Out, Mac)));
        Assert.Equal(["ether type arp drop", "continue"], Rules(ruleset, "I"));
        Assert.Equal(["meta nfproto ipv4 meta l4proto udp reject"], Rules(ruleset, "FI"));
    }

    [Fact]
    public void AnIcmpRuleWithATypeFacingTheWrongWayIsDroppedAndHasNoDirection()
    {
        var ruleset = Compile(Filter("f", Rule(Accept, In, Icmp, ("type", "8"), ("code", "0")), Rule(Accept, Out, Icmp, ("type", "!8"), ("code", "0"))));
        Assert.Equal(["meta nfproto ipv4 meta l4proto icmp icmp type . icmp code != { 8 . 0 } ct state new,established return"], Rules(ruleset, "FI"));
        Assert.Equal(["meta nfproto ipv4 meta l4proto icmp icmp type 8 icmp code 0 ct state new,established accept"], Rules(ruleset, "FO"));
    }

    [Fact]
    public void ConnlimitKeepsOnlyTheNonReversedCopiesWithoutState()
    {
        var ruleset = Compile(Filter("f", Rule(Drop, Out, Icmp, ("connlimit-above", "2"))));
        Assert.Equal(["meta nfproto ipv4 meta l4proto icmp ct count over 2 drop"], Rules(ruleset, "FI"));
        Assert.Empty(Rules(ruleset, "FO"));
        Assert.Equal(["meta nfproto ipv4 meta l4proto icmp ct count over 2 drop"], Rules(ruleset, "HI"));
    }

    [Fact]
    public void AnExplicitStateIsKeptOnDropAndNoneMeansNoConntrack()
    {
        var ruleset = Compile(Filter("f",
            Rule(Drop, In, Tcp, ("state", "NEW,RELATED")),
            Rule(Accept, Out, All, ("state", "NONE"))));
        Assert.Equal(["meta nfproto ipv4 meta l4proto tcp ct state new,related drop"], Rules(ruleset, "FO"));
        Assert.Equal(["meta nfproto ipv4 return"], Rules(ruleset, "FI"));
    }

    [Fact]
    public void TcpFlagsAndOptionsAreWrittenAsNftTcpExpressions()
    {
        var ruleset = Compile(Filter("f", Rule(Accept, Out, Tcp, ("flags", "SYN,ACK/SYN"), ("option", "!5"), ("srcportstart", "!1024"), ("srcportend", "65535"))));
        Assert.Equal("meta nfproto ipv4 meta l4proto tcp tcp flags & (syn | ack) == syn tcp sport != 1024-65535 tcp option 5 missing ct state new,established ct direction original return",
            Rules(ruleset, "FI")[0]);
    }

    [Fact]
    public void StpConfigFieldsOnlyApplyToConfigBpdusSoTheRuleIsSplit()
    {
        var ruleset = Compile(Filter("f", Rule(Drop, In, Stp, ("root-priority", "1"), ("root-priority-hi", "10"))));
        Assert.Equal(
        [
            "ether daddr 01:80:c2:00:00:00 @nh,0,24 0x424203 @nh,48,8 != 0 drop",
            "ether daddr 01:80:c2:00:00:00 @nh,0,24 0x424203 @nh,48,8 0 @nh,64,16 1-10 drop",
        ], Rules(ruleset, "O"));
        var typed = Compile(Filter("f", Rule(Drop, In, Stp, ("type", "128"), ("root-priority", "1"))));
        Assert.Equal(["ether daddr 01:80:c2:00:00:00 @nh,0,24 0x424203 @nh,48,8 128 drop"], Rules(typed, "O"));
    }

    [Fact]
    public void RarpIsMatchedWithRawOffsetsAndArpTestsCarryEbtablesGuards()
    {
        var ruleset = Compile(Filter("f",
            Rule(Accept, Out, Rarp, ("opcode", "Request_Reverse"), ("arpsrcipaddr", "10.0.0.1"), ("arpsrcipmask", "24")),
            Rule(Accept, Out, Arp, ("arpdstmacaddr", "!01:02:03:04:05:06"))));
        Assert.Equal(
        [
            "ether type 0x8035 @nh,48,16 3 @nh,16,16 0x0800 @nh,40,8 4 @nh,112,32 & 0xffffff00 == 0x0a000000 accept",
            "ether type arp arp htype 1 arp hlen 6 arp daddr ether != 01:02:03:04:05:06 accept",
        ], Rules(ruleset, "I"));
    }

    [Theory]
    [InlineData("say \"hi\"")]
    [InlineData("two\nlines")]
    [InlineData("tab\there")]
    public void ACommentNftCannotQuoteIsRefused(string comment)
    {
        var e = Assert.Throws<NwFilterException>(() => Compile(Filter("f", Rule(Accept, Out, Tcp, ("comment", comment)))));
        Assert.Equal(NftablesCodes.CommentNotWritable, e.Primary.Code);
        Assert.Equal("comment", e.Primary.Attribute);
    }

    [Fact]
    public void ACommentOver128BytesIsRefused()
    {
        var e = Assert.Throws<NwFilterException>(() => Compile(Filter("f", Rule(Accept, Out, Mac, ("comment", new string('é', 65))))));
        Assert.Equal(NftablesCodes.CommentNotWritable, e.Primary.Code);
        Assert.Contains("128 bytes", e.Primary.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShellAndNftMetacharactersInACommentStayInsideItsQuotes()
    {
        const string comment = "`ls`;${COLUMNS};$(ls);#x {} @set 'q' \\ end";
        var ruleset = Compile(Filter("f", Rule(Accept, Out, Udp, ("comment", comment))));
        Assert.EndsWith($" return comment \"{comment}\"", Rules(ruleset, "FI")[0], StringComparison.Ordinal);
        Assert.Single(NftablesBackend.Words(Rules(ruleset, "FI")[0]), w => w.StartsWith('"'));
    }

    [Fact]
    public void IpsetsAndGratuitousArpAreRefusedWithTheirOwnCodes()
    {
        var ipset = Assert.Throws<NwFilterException>(() => Compile(Filter("f", Rule(Accept, Out, Tcp, ("ipset", "blocked"), ("ipsetflags", "src")))));
        Assert.Equal(NftablesCodes.IpSetUnsupported, ipset.Primary.Code);
        var gratuitous = Assert.Throws<NwFilterException>(() => Compile(Filter("f", Rule(Accept, Out, Arp, ("gratuitous", "true")))));
        Assert.Equal(NftablesCodes.MatchUnsupported, gratuitous.Primary.Code);
    }

    [Fact]
    public void SubChainJumpsInterleaveWithRootRulesByPriorityAsInLibvirt()
    {
        var arp = Filter("arp-f", "arp", -500, Rule(Accept, Out, Arp, ("opcode", "Request")));
        var ipv4 = Filter("ip-f", "ipv4", -700, Rule(Accept, Out, Ip, ("protocol", "udp")));
        var top = Filter("top", Rule(Accept, Out, Mac, -600, ("protocolid", "ipv4")), Ref("arp-f"), Ref("ip-f"), Rule(Drop, Out, None, 1000));
        var ruleset = Compile(top, arp, ipv4);
        Assert.Equal(
        [
            "ether type ip jump <I-ipv4>",
            "ether type 0x0800 accept",
            "ether type arp jump <I-arp>",
            "drop",
        ], Rules(ruleset, "I"));
        Assert.Equal(["ether type ip ip protocol 17 accept"], Rules(ruleset, "I-ipv4"));
    }
}
