using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Trace;

/// <summary>
/// Reads the frames of a classic libpcap capture file (what <c>tcpdump -w</c> writes: microsecond or nanosecond
/// timestamps, either byte order) with Ethernet link type, and decodes each into a <see cref="TracePacket"/>. Pure:
/// the file format is small and fixed, so no native library is needed to read it. pcapng and other link types are
/// refused with <see cref="TraceCodes.BadCapture"/> naming the file.
/// </summary>
public static class PcapFile
{
    /// <summary>The largest frame accepted (libpcap's default snapshot length).</summary>
    public const int MaxFrame = 262_144;

    private const uint Magic = 0xa1b2c3d4, MagicNanoseconds = 0xa1b23c4d, MagicPcapNg = 0x0a0d0d0a;
    private const uint LinkTypeEthernet = 1;

    /// <summary>The frames of the file, in order (each as captured: Ethernet header first).</summary>
    /// <exception cref="NwFilterException">The file is not a classic Ethernet pcap file or is cut short.</exception>
    public static IReadOnlyList<byte[]> ReadFrames(string path, int maxFrames = 100_000)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return ReadFrames(stream, path, maxFrames);
    }

    /// <summary>The frames of a pcap stream; <paramref name="name"/> names it in errors.</summary>
    public static IReadOnlyList<byte[]> ReadFrames(Stream stream, string name, int maxFrames = 100_000)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[24];
        if (!ReadExactly(stream, header))
        {
            throw Bad(name, "it is shorter than a pcap file header (24 bytes).");
        }
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        bool little;
        if (magic is Magic or MagicNanoseconds)
        {
            little = true;
        }
        else if (BinaryPrimitives.ReverseEndianness(magic) is Magic or MagicNanoseconds)
        {
            little = false;
        }
        else if (magic == MagicPcapNg)
        {
            throw Bad(name, "it is a pcapng file; write a classic pcap file (tcpdump -w, or 'editcap -F pcap in.pcapng out.pcap').");
        }
        else
        {
            throw Bad(name, $"it is not a pcap file (magic 0x{magic:x8}).");
        }
        uint U32(ReadOnlySpan<byte> b) => little ? BinaryPrimitives.ReadUInt32LittleEndian(b) : BinaryPrimitives.ReadUInt32BigEndian(b);
        var linkType = U32(header[20..]) & 0x0fffffff;
        if (linkType != LinkTypeEthernet)
        {
            throw Bad(name, $"its link type is {linkType}, not Ethernet (1); capture on the VM's port or bridge (tcpdump -i vnet0 -w file).");
        }

        var frames = new List<byte[]>();
        Span<byte> record = stackalloc byte[16];
        while (true)
        {
            var got = stream.ReadAtLeast(record, record.Length, throwOnEndOfStream: false);
            if (got == 0)
            {
                return frames;
            }
            if (got < record.Length)
            {
                throw Bad(name, $"packet {frames.Count + 1}'s record header is cut short.");
            }
            var length = U32(record[8..]);
            if (length > MaxFrame)
            {
                throw Bad(name, $"packet {frames.Count + 1} claims {length} bytes, more than {MaxFrame}.");
            }
            if (frames.Count == maxFrames)
            {
                throw Bad(name, $"it holds more than {maxFrames} packets.");
            }
            var frame = new byte[length];
            if (!ReadExactly(stream, frame))
            {
                throw Bad(name, $"packet {frames.Count + 1} is cut short.");
            }
            frames.Add(frame);
        }
    }

    private static bool ReadExactly(Stream stream, Span<byte> buffer) =>
        stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) == buffer.Length;

    private static NwFilterException Bad(string name, string message) =>
        new(Diagnostic.Error(TraceCodes.BadCapture, $"Cannot read the capture '{name}': {message}", DiagnosticCategory.InvalidData) with { Source = name });

    /// <summary>
    /// Decodes an Ethernet frame. The direction is <paramref name="direction"/> or, when null, Out for a frame whose
    /// source is <paramref name="vmMac"/> and In otherwise. The connection state is <paramref name="state"/> or, when
    /// null, New except for a TCP segment that is not a bare SYN (Established); the connection direction
    /// <paramref name="connectionDirection"/> or Original.
    /// </summary>
    /// <returns>The packet, or null with <paramref name="error"/> set when the frame is too short to decode.</returns>
    public static TracePacket? Decode(ReadOnlySpan<byte> frame, PhysicalAddress? vmMac, TraceDirection? direction, bool toHost,
        TraceConnectionState? state, TraceConnectionDirection? connectionDirection, out string? error)
    {
        error = null;
        if (frame.Length < 14)
        {
            error = $"the frame has {frame.Length} bytes, less than an Ethernet header.";
            return null;
        }
        var dst = new PhysicalAddress(frame[..6].ToArray());
        var src = new PhysicalAddress(frame[6..12].ToArray());
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        var payload = frame[14..];
        var packet = new TracePacket
        {
            Direction = direction ?? (vmMac is not null && src.Equals(vmMac) ? TraceDirection.Out : TraceDirection.In),
            SourceMac = src,
            DestinationMac = dst,
            EtherType = etherType,
            Protocol = $"ether type 0x{etherType:x4}",
        };
        switch (etherType)
        {
            case TracePacketBuilder.EtherArp or TracePacketBuilder.EtherRarp:
                if (payload.Length < 28 || payload[4] != 6 || payload[5] != 4)
                {
                    error = "the ARP payload is not IPv4 over Ethernet or is cut short.";
                    return null;
                }
                return packet with
                {
                    Protocol = etherType == TracePacketBuilder.EtherArp ? "arp" : "rarp",
                    ArpOpcode = BinaryPrimitives.ReadUInt16BigEndian(payload[6..]),
                    ArpSenderMac = new PhysicalAddress(payload[8..14].ToArray()),
                    SourceAddress = new IPAddress(payload[14..18]),
                    ArpTargetMac = new PhysicalAddress(payload[18..24].ToArray()),
                    DestinationAddress = new IPAddress(payload[24..28]),
                };
            case TracePacketBuilder.EtherIPv4:
            {
                if (payload.Length < 20 || (payload[0] >> 4) != 4)
                {
                    error = "the IPv4 header is cut short.";
                    return null;
                }
                var ihl = (payload[0] & 0x0f) * 4;
                var fragmentOffset = BinaryPrimitives.ReadUInt16BigEndian(payload[6..]) & 0x1fff;
                var ip = packet with
                {
                    Tos = payload[1],
                    IpProtocol = payload[9],
                    SourceAddress = new IPAddress(payload[12..16]),
                    DestinationAddress = new IPAddress(payload[16..20]),
                };
                var transport = fragmentOffset == 0 && payload.Length >= ihl ? payload[ihl..] : [];
                return Transport(ip, transport, false, toHost, state, connectionDirection);
            }
            case TracePacketBuilder.EtherIPv6:
            {
                if (payload.Length < 40 || (payload[0] >> 4) != 6)
                {
                    error = "the IPv6 header is cut short.";
                    return null;
                }
                var next = payload[6];
                var rest = payload[40..];
                // Skip extension headers as meta l4proto and ebtables' --ip6-proto do.
                for (var hops = 0; hops < 8 && next is 0 or 43 or 60 or 44 && rest.Length >= 8; hops++)
                {
                    var size = next == 44 ? 8 : (rest[1] + 1) * 8;
                    if (next == 44 && (BinaryPrimitives.ReadUInt16BigEndian(rest[2..]) & 0xfff8) != 0)
                    {
                        next = rest[0];
                        rest = [];
                        break;
                    }
                    next = rest[0];
                    rest = rest.Length >= size ? rest[size..] : [];
                }
                var ip = packet with
                {
                    Tos = (byte)(((payload[0] & 0x0f) << 4) | (payload[1] >> 4)),
                    IpProtocol = next,
                    SourceAddress = new IPAddress(payload[8..24]),
                    DestinationAddress = new IPAddress(payload[24..40]),
                };
                return Transport(ip, rest, true, toHost, state, connectionDirection);
            }
            default:
                return packet with { Protocol = etherType == 0x8100 ? "vlan" : $"mac 0x{etherType:x4}" };
        }
    }

    private static TracePacket Transport(TracePacket ip, ReadOnlySpan<byte> t, bool v6, bool toHost, TraceConnectionState? state, TraceConnectionDirection? direction)
    {
        var p = ip with { ToHost = toHost && ip.Direction == TraceDirection.Out, ConnectionDirection = direction ?? TraceConnectionDirection.Original };
        var name = ip.IpProtocol switch
        {
            6 => "tcp", 17 => "udp", 136 => "udplite", 132 => "sctp", 1 => "icmp", 58 => "icmpv6", 2 => "igmp", 50 => "esp", 51 => "ah",
            _ => v6 ? "ipv6" : "ip",
        };
        if (v6 && name is "tcp" or "udp" or "udplite" or "sctp" or "esp" or "ah")
        {
            name += "-ipv6";
        }
        p = p with { Protocol = name };
        if (TracePacketBuilder.HasPorts(ip.IpProtocol) && t.Length >= 4)
        {
            p = p with { SourcePort = BinaryPrimitives.ReadUInt16BigEndian(t), DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(t[2..]) };
        }
        if (ip.IpProtocol == 6 && t.Length >= 14)
        {
            p = p with { TcpFlags = t[13] & 0x3f };
        }
        if (ip.IpProtocol is 1 or 58 && t.Length >= 2)
        {
            p = p with { IcmpType = t[0], IcmpCode = t[1] };
        }
        var inferred = p.TcpFlags is { } f && (f & 0x12) != 0x02 ? TraceConnectionState.Established : TraceConnectionState.New;
        return p with { ConnectionState = state ?? inferred };
    }
}
