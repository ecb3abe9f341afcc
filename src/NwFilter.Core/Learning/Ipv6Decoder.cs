using System.Buffers.Binary;
using System.Net;

namespace NwFilter.Core.Learning;

/// <summary>
/// The IPv6 half of <see cref="FrameDecoder"/> (libvirt learns no IPv6 at all): from the VM, the target of a neighbour
/// advertisement, the target of a duplicate address detection solicitation or the source of any packet; to the VM, the addresses of a DHCPv6 REPLY. Never throws.
/// </summary>
internal static class Ipv6Decoder
{
    private const byte HopByHop = 0;
    private const byte Routing = 43;
    private const byte Fragment = 44;
    private const byte DestinationOptions = 60;
    private const byte Udp = 17;
    private const byte IcmpV6 = 58;
    private const byte NeighborSolicitation = 135;
    private const byte NeighborAdvertisement = 136;
    private const byte Dhcpv6Reply = 7;

    public static Observation? Decode(ReadOnlySpan<byte> packet, bool fromVm)
    {
        if (packet.Length < 40 || packet[0] >> 4 != 6)
        {
            return null;
        }
        var payloadLength = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        if (40 + payloadLength > packet.Length)
        {
            return null;
        }
        var hopLimit = packet[7];
        var source = new IPAddress(packet.Slice(8, 16));
        var next = packet[6];
        var rest = packet.Slice(40, payloadLength);
        var fragmented = false;
        for (var headers = 0; headers < 8 && next is HopByHop or Routing or DestinationOptions or Fragment; headers++)
        {
            if (rest.Length < 8)
            {
                return null;
            }
            var length = next == Fragment ? 8 : (rest[1] + 1) * 8;
            if (next == Fragment && (BinaryPrimitives.ReadUInt16BigEndian(rest[2..]) & 0xfff8) != 0)
            {
                fragmented = true; // not the first fragment: no upper-layer header here
            }
            if (length > rest.Length)
            {
                return null;
            }
            next = rest[0];
            rest = rest[length..];
        }

        if (fromVm)
        {
            if (!fragmented && next == IcmpV6 && hopLimit == 255 && rest.Length >= 24 && rest[0] == NeighborAdvertisement && rest[1] == 0)
            {
                return new AddressClaim(new IPAddress(rest.Slice(8, 16)), AddressSource.Ndp);
            }
            // Duplicate address detection (RFC 4862 5.4.2): a solicitation from :: for the address the VM is about to use.
            if (!fragmented && next == IcmpV6 && hopLimit == 255 && rest.Length >= 24 && rest[0] == NeighborSolicitation && rest[1] == 0 &&
                packet.Slice(8, 16).IndexOfAnyExcept((byte)0) < 0)
            {
                return new AddressClaim(new IPAddress(rest.Slice(8, 16)), AddressSource.Ndp);
            }
            return new AddressClaim(source, AddressSource.IPv6Packet);
        }
        if (!fragmented && next == Udp && FrameDecoder.TryUdp(rest, out var sourcePort, out var destinationPort, out var data) &&
            sourcePort == 547 && destinationPort == 546 && data.Length >= 4 && data[0] == Dhcpv6Reply)
        {
            var addresses = new List<(IPAddress, uint)>();
            ReadOptions(data[4..], addresses, depth: 0);
            return addresses.Count > 0 ? new Dhcpv6ToVm(addresses, source) : null;
        }
        return null;
    }

    /// <summary>Collects IA_ADDR (5) inside IA_NA (3) options: address and valid lifetime.</summary>
    private static void ReadOptions(ReadOnlySpan<byte> options, List<(IPAddress, uint)> addresses, int depth)
    {
        while (options.Length >= 4)
        {
            var code = BinaryPrimitives.ReadUInt16BigEndian(options);
            var length = BinaryPrimitives.ReadUInt16BigEndian(options[2..]);
            if (4 + length > options.Length)
            {
                return;
            }
            var value = options.Slice(4, length);
            options = options[(4 + length)..];
            if (code == 3 && depth == 0 && value.Length >= 12)
            {
                ReadOptions(value[12..], addresses, depth + 1); // IAID, T1, T2, then sub-options
            }
            else if (code == 5 && depth == 1 && value.Length >= 24)
            {
                addresses.Add((new IPAddress(value[..16]), BinaryPrimitives.ReadUInt32BigEndian(value[20..])));
            }
        }
    }
}
