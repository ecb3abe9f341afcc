using NwFilter.Core.Diagnostics;
using NwFilter.Core.Trace;

namespace NwFilter.Core.Tests.Trace;

/// <summary>
/// The packet fields given to a live trace become one nft match in front of its nftrace rules; a field that cannot be
/// read or does not fit the protocol is refused naming it (the kernel's acceptance of these matches:
/// <see cref="NftLiveTraceTests"/>).
/// </summary>
public sealed class LiveTraceMatchTests
{
    private static LiveTraceMatch Match(TracePacketDescription d, params string[] given) =>
        LiveTraceMatch.From(d, given.ToHashSet(StringComparer.Ordinal), null, false);

    [Fact]
    public void NoFieldTracesEveryPacketBothWays()
    {
        var all = Match(new TracePacketDescription());
        Assert.Equal("", all.Expression);
        Assert.Null(all.Direction);
        Assert.False(all.FromHostOnly);
    }

    [Fact]
    public void TheDefaultProtocolOfTheSimulationIsNoMatchUnlessGiven()
    {
        // TracePacketDescription.Protocol defaults to tcp for the simulation; a live trace selects by it only when given.
        Assert.Equal("ether type ip ip daddr 10.0.0.9", Match(new() { DestinationAddress = "10.0.0.9" }, "DestinationAddress").Expression);
        Assert.Equal("ether type ip ip protocol 6 tcp dport 22", Match(new() { Protocol = "tcp", DestinationPort = 22 }, "Protocol", "DestinationPort").Expression);
    }

    [Theory]
    [InlineData("udp", null, "10.0.0.9", null, 53, "ether type ip ip protocol 17 ip daddr 10.0.0.9 udp dport 53")]
    [InlineData("tcp-ipv6", "2001:db8::5", null, 1024, null, "ether type ip6 ip6 nexthdr 6 ip6 saddr 2001:db8::5 tcp sport 1024")]
    [InlineData("icmp", null, null, null, null, "ether type ip ip protocol 1")]
    [InlineData("arp", null, null, null, null, "ether type arp")]
    [InlineData("mac", null, null, null, null, "")]
    public void ProtocolsAddressesAndPortsBecomeBridgeMatches(string protocol, string? source, string? destination, int? sourcePort, int? destinationPort, string expected)
    {
        var given = new List<string> { "Protocol" };
        if (source is not null) { given.Add("SourceAddress"); }
        if (destination is not null) { given.Add("DestinationAddress"); }
        var d = new TracePacketDescription { Protocol = protocol, SourceAddress = source, DestinationAddress = destination, SourcePort = sourcePort, DestinationPort = destinationPort };
        Assert.Equal(expected, Match(d, [.. given]).Expression);
    }

    [Fact]
    public void MacsIcmpFlagsDscpAndArpOpcodes()
    {
        Assert.Equal("ether saddr 52:54:00:0a:0b:0c ether daddr ff:ff:ff:ff:ff:ff",
            Match(new() { SourceMac = "52-54-00-a-0B-0c", DestinationMac = "ff:ff:ff:ff:ff:ff" }).Expression);
        Assert.Equal("ether type ip6 ip6 nexthdr 58 icmpv6 type 135 icmpv6 code 0",
            Match(new() { Protocol = "icmpv6", IcmpType = 135, IcmpCode = 0 }, "Protocol").Expression);
        Assert.Equal("ether type ip ip protocol 6 tcp flags & 0x3f == 0x12",
            Match(new() { Protocol = "tcp", TcpFlags = "SYN,ACK" }, "Protocol").Expression);
        Assert.Equal("ether type ip ip protocol 17 ip dscp 46", Match(new() { Protocol = "udp", Dscp = 46 }, "Protocol").Expression);
        Assert.Equal("ether type arp arp operation 2", Match(new() { Protocol = "arp", ArpOpcode = 2 }, "Protocol").Expression);
        Assert.Equal("ether type 0x88cc", Match(new() { EtherType = "0x88cc" }).Expression);
    }

    [Fact]
    public void DirectionAndFromHostNarrowTheHooks()
    {
        var outOnly = LiveTraceMatch.From(new(), new HashSet<string>(), TraceDirection.Out, false);
        Assert.Equal((TraceDirection.Out, false), (outOnly.Direction!.Value, outOnly.FromHostOnly));
        var fromHost = LiveTraceMatch.From(new(), new HashSet<string>(), null, true);
        Assert.Equal((TraceDirection.In, true), (fromHost.Direction!.Value, fromHost.FromHostOnly));
        AssertBad("FromHost", () => LiveTraceMatch.From(new(), new HashSet<string>(), TraceDirection.Out, true));
    }

    [Fact]
    public void AFieldThatCannotBeReadOrDoesNotFitIsRefusedNamingIt()
    {
        AssertBad("Protocol", () => Match(new() { Protocol = "gre" }, "Protocol"));
        AssertBad("DestinationPort", () => Match(new() { DestinationPort = 22 }));
        AssertBad("DestinationPort", () => Match(new() { Protocol = "icmp", DestinationPort = 22 }, "Protocol"));
        AssertBad("SourcePort", () => Match(new() { Protocol = "udp", SourcePort = 70000 }, "Protocol"));
        AssertBad("SourceAddress", () => Match(new() { Protocol = "tcp", SourceAddress = "2001:db8::1" }, "Protocol"));
        AssertBad("SourceAddress", () => Match(new() { SourceAddress = "10.0.0.300" }));
        AssertBad("SourceAddress", () => Match(new() { SourceAddress = "10.0.0.1; flush ruleset" }));
        AssertBad("DestinationAddress", () => Match(new() { SourceAddress = "10.0.0.1", DestinationAddress = "2001:db8::1" }));
        AssertBad("SourceMac", () => Match(new() { SourceMac = "52:54:00:zz:00:01" }));
        AssertBad("IcmpType", () => Match(new() { Protocol = "udp", IcmpType = 8 }, "Protocol"));
        AssertBad("TcpFlags", () => Match(new() { Protocol = "udp", TcpFlags = "SYN" }, "Protocol"));
        AssertBad("TcpFlags", () => Match(new() { Protocol = "tcp", TcpFlags = "SYN,BOGUS" }, "Protocol"));
        AssertBad("ArpOpcode", () => Match(new() { Protocol = "ipv4", ArpOpcode = 1 }, "Protocol"));
        AssertBad("EtherType", () => Match(new() { EtherType = "0x12" }));
        AssertBad("EtherType", () => Match(new() { Protocol = "ipv4", EtherType = "0x0800" }, "Protocol"));
        AssertBad("Dscp", () => Match(new() { Dscp = 10 }));
    }

    private static void AssertBad(string field, Func<LiveTraceMatch> make)
    {
        var e = Assert.Throws<NwFilterException>(() => make());
        Assert.Equal(TraceCodes.BadPacketField, e.Primary.Code);
        Assert.Equal(field, e.Primary.Attribute);
        Assert.Contains(field, e.Primary.Message, StringComparison.Ordinal);
    }
}
