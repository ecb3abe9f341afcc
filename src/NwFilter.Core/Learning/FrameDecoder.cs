using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;

namespace NwFilter.Core.Learning;

/// <summary>What one captured frame tells about the VM; produced by <see cref="FrameDecoder"/>.</summary>
internal abstract record Observation;

/// <summary>The VM sent a packet using <paramref name="Address"/> as its own (IPv4 source, ARP sender, NDP target).</summary>
internal sealed record AddressClaim(IPAddress Address, AddressSource Source) : Observation;

/// <summary>A DHCP message from a server to the VM (BOOTREPLY whose <c>chaddr</c> is the VM's MAC).</summary>
/// <param name="Message">The message.</param>
/// <param name="ServerAddress">The IPv4 source address of the packet.</param>
internal sealed record DhcpToVm(DhcpMessage Message, IPAddress ServerAddress) : Observation;

/// <summary>A DHCP message the VM sent (BOOTREQUEST whose <c>chaddr</c> is the VM's MAC).</summary>
/// <param name="Message">The message.</param>
/// <param name="SourceAddress">The IPv4 source address of the packet (0.0.0.0 before the VM has an address).</param>
internal sealed record DhcpFromVm(DhcpMessage Message, IPAddress SourceAddress) : Observation;

/// <summary>A DHCPv6 REPLY to the VM carrying addresses (IA_NA / IA_ADDR) with their valid lifetimes.</summary>
internal sealed record Dhcpv6ToVm(IReadOnlyList<(IPAddress Address, uint ValidSeconds)> Addresses, IPAddress ServerAddress) : Observation;

/// <summary>
/// Reads raw Ethernet frames (as captured on the VM's port device) into <see cref="Observation"/>s, relative to the
/// VM's MAC. Pure and allocation-light; never throws on malformed input (a frame it cannot read gives null). 802.1Q and
/// 802.1ad tags are unwrapped (up to two).
/// </summary>
internal static class FrameDecoder
{
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const ushort EtherTypeIPv6 = 0x86dd;
    public const ushort EtherTypeVlan = 0x8100;
    public const ushort EtherTypeQinQ = 0x88a8;
    public const ulong Broadcast = 0xffff_ffff_ffff;

    private const byte Udp = 17;

    /// <summary>A MAC address as a 48-bit number (for fast comparison).</summary>
    public static ulong MacValue(PhysicalAddress mac)
    {
        var bytes = mac.GetAddressBytes();
        if (bytes.Length != 6)
        {
            throw new ArgumentException($"'{mac}' is not an Ethernet MAC address.", nameof(mac));
        }
        return ReadMac(bytes);
    }

    public static ulong ReadMac(ReadOnlySpan<byte> six) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(six) << 32) | BinaryPrimitives.ReadUInt32BigEndian(six[2..]);

    /// <summary>Decodes one frame; null when it says nothing about the VM <paramref name="vmMac"/>.</summary>
    public static Observation? Decode(ReadOnlySpan<byte> frame, ulong vmMac)
    {
        if (frame.Length < 14)
        {
            return null;
        }
        var destination = ReadMac(frame);
        var source = ReadMac(frame[6..]);
        var fromVm = source == vmMac;
        var toVm = !fromVm && (destination == vmMac || destination == Broadcast);
        if (!fromVm && !toVm)
        {
            return null;
        }

        var offset = 12;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        for (var tags = 0; tags < 2 && etherType is EtherTypeVlan or EtherTypeQinQ; tags++)
        {
            offset += 4;
            if (frame.Length < offset + 2)
            {
                return null;
            }
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        }
        var payload = frame[(offset + 2)..];
        return etherType switch
        {
            EtherTypeIPv4 => DecodeIPv4(payload, fromVm, vmMac),
            EtherTypeArp when fromVm => DecodeArp(payload, vmMac),
            EtherTypeIPv6 => Ipv6Decoder.Decode(payload, fromVm),
            _ => null,
        };
    }

    private static Observation? DecodeIPv4(ReadOnlySpan<byte> packet, bool fromVm, ulong vmMac)
    {
        if (packet.Length < 20 || packet[0] >> 4 != 4)
        {
            return null;
        }
        var headerLength = (packet[0] & 0x0f) * 4;
        var totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (headerLength < 20 || totalLength < headerLength || totalLength > packet.Length)
        {
            return null;
        }
        packet = packet[..totalLength]; // drop Ethernet padding
        var sourceAddress = new IPAddress(packet.Slice(12, 4));
        var firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x1fff) == 0;
        if (packet[9] == Udp && firstFragment && TryUdp(packet[headerLength..], out var sourcePort, out var destinationPort, out var data))
        {
            if (fromVm && sourcePort == 68 && destinationPort == 67 && DhcpMessage.TryParse(data, out var request) &&
                request.Operation == DhcpMessage.BootRequest && request.ClientMac == vmMac)
            {
                return new DhcpFromVm(request, sourceAddress);
            }
            if (!fromVm && sourcePort == 67 && destinationPort == 68 && DhcpMessage.TryParse(data, out var reply) &&
                reply.Operation == DhcpMessage.BootReply && reply.ClientMac == vmMac)
            {
                return new DhcpToVm(reply, sourceAddress);
            }
        }
        return fromVm ? new AddressClaim(sourceAddress, AddressSource.IPv4Packet) : null;
    }

    /// <summary>Splits a UDP datagram (bounded by its length field).</summary>
    internal static bool TryUdp(ReadOnlySpan<byte> segment, out ushort sourcePort, out ushort destinationPort, out ReadOnlySpan<byte> data)
    {
        sourcePort = destinationPort = 0;
        data = default;
        if (segment.Length < 8)
        {
            return false;
        }
        var length = BinaryPrimitives.ReadUInt16BigEndian(segment[4..]);
        if (length < 8 || length > segment.Length)
        {
            return false;
        }
        sourcePort = BinaryPrimitives.ReadUInt16BigEndian(segment);
        destinationPort = BinaryPrimitives.ReadUInt16BigEndian(segment[2..]);
        data = segment[8..length];
        return true;
    }

    /// <summary>An ARP request or reply the VM sent: its sender address (not a probe's 0.0.0.0).</summary>
    private static Observation? DecodeArp(ReadOnlySpan<byte> arp, ulong vmMac)
    {
        // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, op 1 or 2.
        if (arp.Length < 28 || BinaryPrimitives.ReadUInt16BigEndian(arp) != 1 ||
            BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EtherTypeIPv4 || arp[4] != 6 || arp[5] != 4)
        {
            return null;
        }
        var operation = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        if (operation is not (1 or 2) || ReadMac(arp[8..]) != vmMac)
        {
            return null;
        }
        var sender = new IPAddress(arp.Slice(14, 4));
        return sender.Equals(IPAddress.Any) ? null : new AddressClaim(sender, AddressSource.Arp);
    }
}
