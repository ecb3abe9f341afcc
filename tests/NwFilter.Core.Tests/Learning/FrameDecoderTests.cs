using System.Net;
using NwFilter.Core.Learning;
using NwFilter.Core.Tests.TestSupport;
using PacketDotNet;
using static NwFilter.Core.Tests.TestSupport.LearningPackets;

namespace NwFilter.Core.Tests.Learning;

public sealed class FrameDecoderTests
{
    private static readonly ulong Vm = FrameDecoder.MacValue(VmMac);

    private static Observation? Decode(byte[] frame) => FrameDecoder.Decode(frame, Vm);

    [Fact]
    public void AnIPv4PacketFromTheVmClaimsItsSourceAddress()
    {
        var claim = Assert.IsType<AddressClaim>(Decode(Ipv4FromVm("10.213.0.10")));
        Assert.Equal(IPAddress.Parse("10.213.0.10"), claim.Address);
        Assert.Equal(AddressSource.IPv4Packet, claim.Source);
    }

    [Fact]
    public void FramesFromAnotherMacSayNothing()
    {
        Assert.Null(Decode(Ipv4FromVm("10.213.0.10", mac: OtherMac)));
        Assert.Null(Decode(ArpFromVm(ArpOperation.Request, "10.213.0.11", "10.213.0.1", OtherMac)));
    }

    [Theory]
    [InlineData((ushort)0x8100)]
    [InlineData((ushort)0x88a8)]
    public void VlanTagsAreUnwrapped(ushort tpid)
    {
        var claim = Assert.IsType<AddressClaim>(Decode(Tagged(Ipv4FromVm("10.213.0.10"), 42, tpid)));
        Assert.Equal(IPAddress.Parse("10.213.0.10"), claim.Address);
        var twice = Tagged(Tagged(Ipv4FromVm("10.213.0.12"), 7), 42, 0x88a8);
        Assert.Equal(IPAddress.Parse("10.213.0.12"), Assert.IsType<AddressClaim>(Decode(twice)).Address);
    }

    [Theory]
    [InlineData(ArpOperation.Request)]
    [InlineData(ArpOperation.Response)]
    public void ArpFromTheVmClaimsTheSenderAddress(ArpOperation operation)
    {
        var claim = Assert.IsType<AddressClaim>(Decode(ArpFromVm(operation, "10.213.0.10", "10.213.0.1")));
        Assert.Equal(IPAddress.Parse("10.213.0.10"), claim.Address);
        Assert.Equal(AddressSource.Arp, claim.Source);
    }

    [Fact]
    public void AnArpProbeClaimsNothing()
    {
        Assert.Null(Decode(ArpFromVm(ArpOperation.Request, "0.0.0.0", "10.213.0.10")));
    }

    [Fact]
    public void AnArpPacketWhoseSenderMacIsNotTheVmsClaimsNothing()
    {
        var frame = ArpFromVm(ArpOperation.Response, "10.213.0.10", "10.213.0.1");
        OtherMac.GetAddressBytes().CopyTo(frame, 14 + 8); // the ARP sender hardware address
        Assert.Null(Decode(frame));
    }

    [Theory]
    [InlineData(DhcpMessageType.Offer, false)]
    [InlineData(DhcpMessageType.Ack, false)]
    [InlineData(DhcpMessageType.Ack, true)]
    public void ADhcpReplyForTheVmsMacIsSeen(DhcpMessageType type, bool unicast)
    {
        var reply = Assert.IsType<DhcpToVm>(Decode(DhcpReply(type, "10.213.0.120", 120, unicast: unicast)));
        Assert.Equal(type, reply.Message.MessageType);
        Assert.Equal(IPAddress.Parse("10.213.0.120"), reply.Message.YourAddress);
        Assert.Equal(120u, reply.Message.LeaseSeconds);
        Assert.Equal(Server, reply.Message.ServerIdentifier);
        Assert.Equal(Server, reply.ServerAddress);
    }

    [Fact]
    public void ADhcpReplyForAnotherClientIsNotTheVms()
    {
        Assert.Null(Decode(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", chaddr: OtherMac)));
    }

    [Fact]
    public void ADhcpReleaseFromTheVmIsSeenWithItsAddress()
    {
        var request = Assert.IsType<DhcpFromVm>(Decode(DhcpRequest(DhcpMessageType.Release, ciaddr: "10.213.0.120")));
        Assert.Equal(DhcpMessageType.Release, request.Message.MessageType);
        Assert.Equal(IPAddress.Parse("10.213.0.120"), request.Message.ClientAddress);
        Assert.Equal(IPAddress.Parse("10.213.0.120"), request.SourceAddress);
    }

    [Fact]
    public void ADhcpDeclineCarriesTheRequestedAddress()
    {
        var request = Assert.IsType<DhcpFromVm>(Decode(DhcpRequest(DhcpMessageType.Decline, requested: "10.213.0.121")));
        Assert.Equal(IPAddress.Parse("10.213.0.121"), request.Message.RequestedAddress);
    }

    [Fact]
    public void OptionsOverloadedIntoTheFileFieldAreRead()
    {
        var payload = DhcpPayload(2, DhcpMessageType.Ack, VmMac, yiaddr: "10.213.0.130", leaseSeconds: 60, serverId: Server, overloadFile: true);
        Assert.True(DhcpMessage.TryParse(payload, out var message));
        Assert.Equal(DhcpMessageType.Ack, message.MessageType);
    }

    [Fact]
    public void PacketDotNetReadsOurDhcpLayoutTheSameWay()
    {
        var frame = DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 3600);
        var parsed = Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<DhcpV4Packet>();
        Assert.NotNull(parsed);
        Assert.Equal(DhcpV4MessageType.Ack, parsed.MessageType);
        Assert.Equal(IPAddress.Parse("10.213.0.120"), parsed.YourAddress);
        Assert.Equal(VmMac, parsed.ClientHardwareAddress);
    }

    [Fact]
    public void BootpWithoutAMessageTypeIsNotDhcp()
    {
        var payload = DhcpPayload(2, DhcpMessageType.Ack, VmMac, yiaddr: "10.213.0.130");
        payload[242] = 0; // turn option 53 into pad bytes
        payload[241] = 0;
        payload[240] = 0;
        Assert.False(DhcpMessage.TryParse(payload, out _));
    }

    [Fact]
    public void EthernetPaddingAfterTheIpPacketIsIgnored()
    {
        var frame = DhcpReply(DhcpMessageType.Ack, "10.213.0.120");
        var padded = frame.Concat(new byte[32]).ToArray();
        Assert.IsType<DhcpToVm>(Decode(padded));
    }

    [Fact]
    public void IPv6NeighbourAdvertisementsAndPacketsFromTheVmClaimAddresses()
    {
        var advert = Assert.IsType<AddressClaim>(Decode(Ipv6FromVm("fe80::5054:ff:fed5:10", advertisedTarget: "fd00:213::10")));
        Assert.Equal(IPAddress.Parse("fd00:213::10"), advert.Address);
        Assert.Equal(AddressSource.Ndp, advert.Source);
        var plain = Assert.IsType<AddressClaim>(Decode(Ipv6FromVm("fd00:213::10")));
        Assert.Equal(AddressSource.IPv6Packet, plain.Source);
    }

    [Fact]
    public void ADhcpv6ReplyToTheVmListsItsAddresses()
    {
        var reply = Assert.IsType<Dhcpv6ToVm>(Decode(Dhcpv6Reply("fd00:213::99", 7200)));
        var (address, valid) = Assert.Single(reply.Addresses);
        Assert.Equal(IPAddress.Parse("fd00:213::99"), address);
        Assert.Equal(7200u, valid);
    }

    [Fact]
    public void EveryTruncationOfValidFramesDecodesWithoutThrowing()
    {
        byte[][] frames =
        [
            Ipv4FromVm("10.213.0.10"), Tagged(Ipv4FromVm("10.213.0.10"), 5), ArpFromVm(ArpOperation.Request, "10.213.0.10", "10.213.0.1"),
            DhcpReply(DhcpMessageType.Ack, "10.213.0.120"), DhcpRequest(DhcpMessageType.Release, "10.213.0.120"),
            Ipv6FromVm("fe80::1", "fd00:213::10"), Dhcpv6Reply("fd00:213::99", 60),
        ];
        foreach (var frame in frames)
        {
            for (var length = 0; length <= frame.Length; length++)
            {
                _ = Decode(frame[..length]);
            }
        }
    }

    [Fact]
    public void RandomBytesAndMutatedFramesDecodeWithoutThrowing()
    {
        var random = new Random(6);
        var seeds = new[] { DhcpReply(DhcpMessageType.Ack, "10.213.0.120"), Dhcpv6Reply("fd00:213::99", 60), Ipv4FromVm("10.213.0.10") };
        for (var i = 0; i < 20000; i++)
        {
            var frame = (byte[])seeds[i % seeds.Length].Clone();
            for (var flips = random.Next(1, 8); flips > 0; flips--)
            {
                frame[random.Next(12, frame.Length)] = (byte)random.Next(256); // keep the MACs so decoding goes deep
            }
            _ = Decode(frame);
            var noise = new byte[random.Next(0, 400)];
            random.NextBytes(noise);
            _ = Decode(noise);
        }
    }
}
