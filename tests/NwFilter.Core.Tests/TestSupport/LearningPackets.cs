using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using NwFilter.Core.Learning;
using PacketDotNet;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// Frames for the learner's tests, built with PacketDotNet (Ethernet, IPv4/IPv6, UDP, ARP), with DHCP and DHCPv6
/// payloads laid out by hand from RFC 2131 / RFC 8415 (PacketDotNet cross-checks the DHCP layout in a test).
/// </summary>
internal static class LearningPackets
{
    public static readonly PhysicalAddress VmMac = PhysicalAddress.Parse("52-54-00-D5-00-10");
    public static readonly PhysicalAddress OtherMac = PhysicalAddress.Parse("52-54-00-D5-00-11");
    public static readonly PhysicalAddress ServerMac = PhysicalAddress.Parse("52-54-00-AA-00-01");
    public static readonly PhysicalAddress Broadcast = PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF");
    public static readonly IPAddress Server = IPAddress.Parse("10.213.0.1");
    public static readonly IPAddress RogueServer = IPAddress.Parse("10.213.0.66");

    /// <summary>A UDP/IPv4 frame.</summary>
    public static byte[] Udp4(PhysicalAddress source, PhysicalAddress destination, IPAddress from, IPAddress to, ushort sourcePort, ushort destinationPort, byte[] payload)
    {
        var udp = new UdpPacket(sourcePort, destinationPort) { PayloadData = payload };
        var ip = new IPv4Packet(from, to) { PayloadPacket = udp, TimeToLive = 64 };
        var ethernet = new EthernetPacket(source, destination, EthernetType.IPv4) { PayloadPacket = ip };
        udp.UpdateCalculatedValues();
        ip.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        return ethernet.Bytes;
    }

    /// <summary>A plain UDP packet the VM sends from <paramref name="from"/>.</summary>
    public static byte[] Ipv4FromVm(string from, string to = "10.213.0.1", PhysicalAddress? mac = null) =>
        Udp4(mac ?? VmMac, ServerMac, IPAddress.Parse(from), IPAddress.Parse(to), 40000, 9, [1, 2, 3]);

    /// <summary>An ARP packet the VM sends.</summary>
    public static byte[] ArpFromVm(ArpOperation operation, string sender, string target, PhysicalAddress? mac = null)
    {
        var senderMac = mac ?? VmMac;
        var arp = new ArpPacket(operation, operation == ArpOperation.Request ? PhysicalAddress.Parse("00-00-00-00-00-00") : ServerMac,
            IPAddress.Parse(target), senderMac, IPAddress.Parse(sender));
        var ethernet = new EthernetPacket(senderMac, operation == ArpOperation.Request ? Broadcast : ServerMac, EthernetType.Arp) { PayloadPacket = arp };
        return ethernet.Bytes;
    }

    /// <summary>Inserts an 802.1Q tag (VLAN <paramref name="vlan"/>) after the MAC addresses.</summary>
    public static byte[] Tagged(byte[] frame, ushort vlan, ushort tpid = 0x8100)
    {
        var tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), tpid);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), vlan);
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    /// <summary>A DHCP reply from a server to the VM (broadcast unless <paramref name="unicast"/>).</summary>
    public static byte[] DhcpReply(DhcpMessageType type, string yiaddr, uint? leaseSeconds = 3600, IPAddress? server = null,
        PhysicalAddress? chaddr = null, bool unicast = false)
    {
        var from = server ?? Server;
        var payload = DhcpPayload(2, type, chaddr ?? VmMac, yiaddr: yiaddr, leaseSeconds: leaseSeconds, serverId: from);
        return Udp4(ServerMac, unicast ? VmMac : Broadcast, from, unicast ? IPAddress.Parse(yiaddr) : IPAddress.Broadcast, 67, 68, payload);
    }

    /// <summary>A DHCP message the VM sends to the server (RELEASE: ciaddr; DECLINE: option 50).</summary>
    public static byte[] DhcpRequest(DhcpMessageType type, string ciaddr = "0.0.0.0", string? requested = null, PhysicalAddress? mac = null)
    {
        var vm = mac ?? VmMac;
        var payload = DhcpPayload(1, type, vm, ciaddr: ciaddr, requested: requested, serverId: Server);
        var unicast = ciaddr != "0.0.0.0";
        return Udp4(vm, unicast ? ServerMac : Broadcast, IPAddress.Parse(ciaddr), unicast ? Server : IPAddress.Broadcast, 68, 67, payload);
    }

    /// <summary>A BOOTP/DHCP payload (RFC 2131 figure 1, magic cookie, options 53, 51, 54, 50, end).</summary>
    public static byte[] DhcpPayload(byte op, DhcpMessageType type, PhysicalAddress chaddr, string ciaddr = "0.0.0.0", string yiaddr = "0.0.0.0",
        uint? leaseSeconds = null, IPAddress? serverId = null, string? requested = null, bool overloadFile = false)
    {
        var options = new List<byte>();
        void Option(byte code, ReadOnlySpan<byte> value)
        {
            options.Add(code);
            options.Add((byte)value.Length);
            options.AddRange(value.ToArray());
        }

        var typeOption = new List<byte> { 53, 1, (byte)type };
        if (overloadFile)
        {
            Option(52, [1]); // the message type goes into the file field
        }
        else
        {
            options.AddRange(typeOption);
        }
        if (leaseSeconds is { } lease)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, lease);
            Option(51, bytes);
        }
        if (serverId is not null)
        {
            Option(54, serverId.GetAddressBytes());
        }
        if (requested is not null)
        {
            Option(50, IPAddress.Parse(requested).GetAddressBytes());
        }
        options.Add(255);

        var message = new byte[240 + options.Count];
        message[0] = op;
        message[1] = 1; // Ethernet
        message[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), 0x1234abcd);
        IPAddress.Parse(ciaddr).GetAddressBytes().CopyTo(message, 12);
        IPAddress.Parse(yiaddr).GetAddressBytes().CopyTo(message, 16);
        chaddr.GetAddressBytes().CopyTo(message, 28);
        if (overloadFile)
        {
            typeOption.Add(255);
            typeOption.CopyTo(message, 108);
        }
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(236), DhcpMessage.MagicCookie);
        options.CopyTo(message, 240);
        return message;
    }

    /// <summary>An IPv6 packet from the VM: a neighbour advertisement for <paramref name="target"/>, or UDP from <paramref name="source"/>.</summary>
    public static byte[] Ipv6FromVm(string source, string? advertisedTarget = null)
    {
        var ip = new IPv6Packet(IPAddress.Parse(source), IPAddress.Parse(advertisedTarget is null ? "fd00:213::1" : "ff02::1"));
        if (advertisedTarget is not null)
        {
            var icmp = new byte[24];
            icmp[0] = 136; // neighbour advertisement
            icmp[4] = 0x20; // override
            IPAddress.Parse(advertisedTarget).GetAddressBytes().CopyTo(icmp, 8);
            ip.NextHeader = PacketDotNet.ProtocolType.IcmpV6;
            ip.HopLimit = 255;
            ip.PayloadData = icmp;
        }
        else
        {
            ip.NextHeader = PacketDotNet.ProtocolType.Udp;
            ip.HopLimit = 64;
            ip.PayloadPacket = new UdpPacket(40000, 9) { PayloadData = [1, 2, 3] };
            ((UdpPacket)ip.PayloadPacket).UpdateCalculatedValues();
        }
        ip.PayloadLength = (ushort)(ip.PayloadPacket?.Bytes.Length ?? ip.PayloadData.Length);
        var ethernet = new EthernetPacket(VmMac, PhysicalAddress.Parse("33-33-00-00-00-01"), EthernetType.IPv6) { PayloadPacket = ip };
        return ethernet.Bytes;
    }

    /// <summary>A DHCPv6 REPLY to the VM with one IA_NA holding <paramref name="address"/>.</summary>
    public static byte[] Dhcpv6Reply(string address, uint validSeconds, string server = "fe80::1")
    {
        var message = new List<byte> { 7, 0xab, 0xcd, 0xef };
        var iaAddr = new byte[4 + 24];
        BinaryPrimitives.WriteUInt16BigEndian(iaAddr, 5);
        BinaryPrimitives.WriteUInt16BigEndian(iaAddr.AsSpan(2), 24);
        IPAddress.Parse(address).GetAddressBytes().CopyTo(iaAddr, 4);
        BinaryPrimitives.WriteUInt32BigEndian(iaAddr.AsSpan(20), validSeconds / 2);
        BinaryPrimitives.WriteUInt32BigEndian(iaAddr.AsSpan(24), validSeconds);
        var iaNa = new byte[4 + 12 + iaAddr.Length];
        BinaryPrimitives.WriteUInt16BigEndian(iaNa, 3);
        BinaryPrimitives.WriteUInt16BigEndian(iaNa.AsSpan(2), (ushort)(12 + iaAddr.Length));
        iaAddr.CopyTo(iaNa, 16);
        message.AddRange(iaNa);

        var udp = new UdpPacket(547, 546) { PayloadData = [.. message] };
        udp.UpdateCalculatedValues();
        var ip = new IPv6Packet(IPAddress.Parse(server), IPAddress.Parse("fe80::5054:ff:fed5:10"))
        {
            NextHeader = PacketDotNet.ProtocolType.Udp,
            HopLimit = 64,
            PayloadPacket = udp,
        };
        ip.PayloadLength = (ushort)udp.Bytes.Length;
        return new EthernetPacket(ServerMac, VmMac, EthernetType.IPv6) { PayloadPacket = ip }.Bytes;
    }
}

