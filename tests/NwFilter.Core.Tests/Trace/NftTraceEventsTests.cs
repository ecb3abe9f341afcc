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
}
