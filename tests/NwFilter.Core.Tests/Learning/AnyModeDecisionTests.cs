using System.Net;
using NwFilter.Core.Learning;
using NwFilter.Core.Tests.TestSupport;
using PacketDotNet;
using static NwFilter.Core.Tests.TestSupport.LearningPackets;

namespace NwFilter.Core.Tests.Learning;

public sealed class AnyModeDecisionTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly ulong Vm = FrameDecoder.MacValue(VmMac);

    private static LearnedAddress? Decide(byte[] frame, IPAddress[]? servers = null, bool ipv6 = false) =>
        FrameDecoder.Decode(frame, Vm) is { } observation ? AnyModeDecision.Decide(observation, servers ?? [], ipv6, Now) : null;

    [Theory]
    [InlineData("10.213.0.10")]
    [InlineData("192.168.1.1")]
    [InlineData("223.255.255.254")]
    [InlineData("169.254.3.4")]
    public void AUsableIPv4SourceIsLearnedAsStatic(string address)
    {
        var learned = Decide(Ipv4FromVm(address));
        Assert.NotNull(learned);
        Assert.Equal(IPAddress.Parse(address), learned.Address);
        Assert.Equal(AddressSource.IPv4Packet, learned.Source);
        Assert.Null(learned.Expires);
        Assert.Equal(Now, learned.LearnedAt);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("239.1.2.3")]
    [InlineData("240.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("127.0.0.1")]
    public void UnspecifiedMulticastClassEAndLoopbackSourcesAreIgnored(string address)
    {
        Assert.Null(Decide(Ipv4FromVm(address)));
    }

    [Fact]
    public void ArpFromTheVmTeachesItsAddressUnlikeLibvirtWhoseArpBranchIsUnreachable()
    {
        var learned = Decide(ArpFromVm(ArpOperation.Request, "10.213.0.10", "10.213.0.1"));
        Assert.Equal(IPAddress.Parse("10.213.0.10"), learned?.Address);
        Assert.Equal(AddressSource.Arp, learned?.Source);
    }

    [Theory]
    [InlineData(DhcpMessageType.Offer)]
    [InlineData(DhcpMessageType.Ack)]
    public void ADhcpOfferOrAckToTheVmTeachesYiaddr(DhcpMessageType type)
    {
        var learned = Decide(DhcpReply(type, "10.213.0.120"));
        Assert.Equal(IPAddress.Parse("10.213.0.120"), learned?.Address);
        Assert.Equal(AddressSource.Dhcp, learned?.Source);
        Assert.Equal(Server, learned?.Server);
        Assert.Null(learned?.Expires); // any mode keeps no lease, as libvirt
    }

    [Theory]
    [InlineData(DhcpMessageType.Nak)]
    [InlineData(DhcpMessageType.Inform)]
    public void OtherDhcpRepliesTeachNothing(DhcpMessageType type)
    {
        Assert.Null(Decide(DhcpReply(type, "10.213.0.120")));
    }

    [Fact]
    public void WithDhcpServersOnlyTheirRepliesAreBelieved()
    {
        IPAddress[] servers = [Server];
        Assert.Null(Decide(DhcpReply(DhcpMessageType.Ack, "10.213.0.200", server: RogueServer), servers));
        Assert.NotNull(Decide(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", server: Server), servers));
        Assert.NotNull(Decide(DhcpReply(DhcpMessageType.Ack, "10.213.0.200", server: RogueServer)));
    }

    [Fact]
    public void ADhcpDiscoverFromZeroTeachesNothingButARenewingRequestDoes()
    {
        Assert.Null(Decide(DhcpRequest(DhcpMessageType.Discover)));
        Assert.Equal(IPAddress.Parse("10.213.0.120"), Decide(DhcpRequest(DhcpMessageType.Request, ciaddr: "10.213.0.120"))?.Address);
    }

    [Fact]
    public void IPv6IsLearnedOnlyWhenAskedAndNeverLinkLocal()
    {
        var advert = Ipv6FromVm("fe80::5054:ff:fed5:10", advertisedTarget: "fd00:213::10");
        Assert.Null(Decide(advert));
        Assert.Equal(IPAddress.Parse("fd00:213::10"), Decide(advert, ipv6: true)?.Address);
        Assert.Null(Decide(Ipv6FromVm("fe80::5054:ff:fed5:10"), ipv6: true));
        Assert.Equal(AddressSource.Dhcpv6, Decide(Dhcpv6Reply("fd00:213::99", 60), ipv6: true)?.Source);
    }
}
