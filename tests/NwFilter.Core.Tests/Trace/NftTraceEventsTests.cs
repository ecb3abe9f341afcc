using NwFilter.Core.Trace;

namespace NwFilter.Core.Tests.Trace;

/// <summary>Lines of <c>nft monitor trace</c> (as nft 1.0.6 prints them) read into events and packets.</summary>
public sealed class NftTraceEventsTests
{
    [Fact]
    public void RuleVerdictCommentAndPacketFieldsAreRead()
    {
        var rule = NftTraceEvents.Parse("trace id 03007853 bridge nwfilter vnet0/1/1/I-ipv4-ip rule ip saddr != 10.0.0.5 drop comment \"nwf:9 1000 no-ip-spoofing\" (verdict drop)")!;
        Assert.Equal(("03007853", "bridge", "nwfilter", "rule", "drop"), (rule.Id, rule.Family, rule.Table, rule.Kind, rule.Verdict));
        Assert.Equal("nwf:9 1000 no-ip-spoofing", rule.Comment);
        Assert.Equal("I-ipv4-ip", NftTraceEvents.Role(rule.Chain));
        Assert.Equal("vnet0", NftTraceEvents.PortOf(rule.Chain));
        Assert.Equal(TraceVerdict.Drop, NftTraceEvents.Verdict(rule.Verdict));

        var policy = NftTraceEvents.Parse("trace id 03007853 bridge nwfilter pre policy accept ")!;
        Assert.Equal(("policy", "accept"), (policy.Kind, policy.Verdict));
        Assert.Null(NftTraceEvents.PortOf(policy.Chain));

        var packet = NftTraceEvents.Parse("trace id 03007853 bridge nwfilter-trace from-vm packet: iif \"vneta\" ether saddr ca:65:46:03:90:1e ether daddr 82:23:62:da:a0:43 ip saddr 10.9.0.10 ip daddr 10.9.0.11 ip dscp cs0 ip protocol icmp ip length 84 icmp type echo-request")!;
        var p = NftTraceEvents.Packet(packet.Packet, TraceDirection.Out)!;
        Assert.Equal("ca:65:46:03:90:1e", TracePacket.Mac(p.SourceMac));
        Assert.Equal("10.9.0.11", p.DestinationAddress!.ToString());
        Assert.Equal("icmp", p.Protocol);

        Assert.Null(NftTraceEvents.Parse("Error: something else"));
    }

    [Theory]
    // ip family hooks (iptables-nft's filter INPUT: EbIpTables' HI rules) print no ip protocol, only the next header
    [InlineData("trace id d9d8133b ip filter INPUT packet: iif \"br0\" ip saddr 10.213.0.10 ip daddr 10.213.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 31456 ip length 31 udp sport 38767 udp dport 5104 udp length 11 @th,64,24 0x68690a", "udp", (ushort)38767, (ushort)5104)]
    [InlineData("trace id 49e2833c ip filter INPUT packet: iif \"br0\" ip saddr 10.213.0.10 ip daddr 10.213.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 35827 ip length 84 icmp type echo-request icmp code net-unreachable icmp id 31003 icmp sequence 1", "icmp", null, null)]
    [InlineData("trace id 4a000001 ip filter INPUT packet: iif \"br0\" ip saddr 10.213.0.10 ip daddr 10.213.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 1 ip length 60 tcp sport 40000 tcp dport 22 tcp flags == syn", "tcp", (ushort)40000, (ushort)22)]
    // the bridge family prints ip protocol: it wins
    [InlineData("trace id 03007853 bridge nwfilter-trace from-vm packet: iif \"vneta\" ether saddr ca:65:46:03:90:1e ether daddr 82:23:62:da:a0:43 ip saddr 10.9.0.10 ip daddr 10.9.0.11 ip dscp cs0 ip protocol icmp ip length 84 icmp type echo-request", "icmp", null, null)]
    public void TheTransportHeaderGivesTheProtocolWhereNftPrintsNoIpProtocol(string line, string protocol, ushort? sourcePort, ushort? destinationPort)
    {
        var p = NftTraceEvents.Packet(NftTraceEvents.Parse(line)!.Packet, TraceDirection.Out)!;
        Assert.Equal((protocol, sourcePort, destinationPort), (p.Protocol, p.SourcePort, p.DestinationPort));
    }
}
