using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NwFilter.Core.Trace;

/// <summary>
/// Which of a port's packets a live trace marks: the fields of a packet description that were given, as one nft match
/// (bridge family) put in front of the trace table's <c>meta nftrace set 1</c>, and the directions traced. A field left
/// out matches any value. Pure: the same fields, read as the simulation reads them, each refused with
/// <see cref="TraceCodes.BadPacketField"/> naming it when it cannot be read or does not fit the protocol.
/// </summary>
public sealed record LiveTraceMatch
{
    /// <summary>Every packet of the port, both ways.</summary>
    public static LiveTraceMatch All { get; } = new();

    /// <summary>The nft match text (empty: every packet).</summary>
    public string Expression { get; private init; } = "";

    /// <summary>The direction traced; null: both.</summary>
    public TraceDirection? Direction { get; private init; }

    /// <summary>Only packets the host itself sends to the VM (nft's output hook).</summary>
    public bool FromHostOnly { get; private init; }

    /// <summary>
    /// The match of the given fields (<paramref name="given"/>: the names of the description's fields that were set;
    /// the others keep their defaults and match anything). <paramref name="direction"/> and <paramref name="fromHost"/>
    /// narrow the hooks traced.
    /// </summary>
    public static LiveTraceMatch From(TracePacketDescription description, IReadOnlySet<string> given, TraceDirection? direction, bool fromHost)
    {
        ArgumentNullException.ThrowIfNull(description);
        ArgumentNullException.ThrowIfNull(given);
        var parts = new List<string>();
        string? protocolName = given.Contains("Protocol") ? description.Protocol : null;
        (ushort EtherType, byte? IpProtocol, bool Ipv6Form)? protocol = null;
        if (protocolName is not null)
        {
            if (!TracePacketBuilder.TryProtocol(protocolName, out var p))
            {
                throw TracePacketBuilder.Bad("Protocol", protocolName, $"'{protocolName}' is not a protocol the trace knows; use one of {string.Join(", ", TracePacketBuilder.ProtocolNames)}.");
            }
            protocol = p;
            protocolName = protocolName.ToLowerInvariant();
        }
        if (description.SourceMac is { } sourceMac)
        {
            parts.Add("ether saddr " + Mac("SourceMac", sourceMac));
        }
        if (description.DestinationMac is { } destinationMac)
        {
            parts.Add("ether daddr " + Mac("DestinationMac", destinationMac));
        }
        var source = Address("SourceAddress", description.SourceAddress);
        var destination = Address("DestinationAddress", description.DestinationAddress);
        var family = source?.AddressFamily ?? destination?.AddressFamily;
        if (source is not null && destination is not null && source.AddressFamily != destination.AddressFamily)
        {
            throw TracePacketBuilder.Bad("DestinationAddress", description.DestinationAddress, "the source and destination addresses are of different IP versions.");
        }
        if (protocol is { } known && family is { } f && known.EtherType is not 0 && (known.Ipv6Form != (f == AddressFamily.InterNetworkV6) || known.IpProtocol is null))
        {
            throw TracePacketBuilder.Bad(source is not null ? "SourceAddress" : "DestinationAddress", (source ?? destination)!.ToString(),
                $"an IPv{(f == AddressFamily.InterNetworkV6 ? 6 : 4)} address does not fit protocol {protocolName}.");
        }
        if (description.EtherType is { } etherType)
        {
            if (protocol is not null || family is not null)
            {
                throw TracePacketBuilder.Bad("EtherType", etherType, "give either EtherType or a protocol/address, not both.");
            }
            parts.Add("ether type 0x" + TracePacketBuilder.ParseNumber("EtherType", etherType, 0x600, 0xffff).ToString("x4", CultureInfo.InvariantCulture));
        }
        var ipv6 = protocol?.Ipv6Form ?? family == AddressFamily.InterNetworkV6;
        if (protocol is { } pr && protocolName != "mac")
        {
            parts.Add(pr.EtherType switch
            {
                0x0806 => "ether type arp",
                0x8035 => "ether type 0x8035",
                _ => ipv6 ? "ether type ip6" : "ether type ip",
            });
            if (pr.IpProtocol is { } ipProtocol and not 255 and not 59)
            {
                parts.Add((ipv6 ? "ip6 nexthdr " : "ip protocol ") + ipProtocol.ToString(CultureInfo.InvariantCulture));
            }
        }
        else if (family is not null)
        {
            parts.Add(ipv6 ? "ether type ip6" : "ether type ip");
        }
        var ip = ipv6 ? "ip6" : "ip";
        if (source is not null)
        {
            parts.Add($"{ip} saddr {source}");
        }
        if (destination is not null)
        {
            parts.Add($"{ip} daddr {destination}");
        }
        if (description.Dscp is { } dscp)
        {
            RequireIp("Dscp", protocol, family);
            parts.Add($"{ip} dscp {TracePacketBuilder.Range("Dscp", dscp, 0, 63)}");
        }
        var transport = protocol?.IpProtocol switch
        {
            6 => "tcp",
            17 => "udp",
            136 => "udplite",
            132 => "sctp",
            _ => null,
        };
        foreach (var (field, value, word) in new[] { ("SourcePort", description.SourcePort, "sport"), ("DestinationPort", description.DestinationPort, "dport") })
        {
            if (value is { } port)
            {
                parts.Add($"{transport ?? throw TracePacketBuilder.Bad(field, port.ToString(CultureInfo.InvariantCulture), "a port needs -Protocol tcp, udp, udplite or sctp (or their -ipv6 forms).")} {word} {TracePacketBuilder.Range(field, port, 0, 65535)}");
            }
        }
        var icmp = protocol?.IpProtocol switch { 1 => "icmp", 58 => "icmpv6", _ => null };
        foreach (var (field, value, word) in new[] { ("IcmpType", description.IcmpType, "type"), ("IcmpCode", description.IcmpCode, "code") })
        {
            if (value is { } number)
            {
                parts.Add($"{icmp ?? throw TracePacketBuilder.Bad(field, number.ToString(CultureInfo.InvariantCulture), "an ICMP type or code needs -Protocol icmp or icmpv6.")} {word} {TracePacketBuilder.Range(field, number, 0, 255)}");
            }
        }
        if (description.TcpFlags is { } flags)
        {
            if (transport != "tcp")
            {
                throw TracePacketBuilder.Bad("TcpFlags", flags, "TCP flags need -Protocol tcp or tcp-ipv6.");
            }
            parts.Add($"tcp flags & 0x3f == 0x{TracePacketBuilder.ParseTcpFlags(flags):x2}");
        }
        if (description.ArpOpcode is { } opcode)
        {
            if (protocol?.EtherType is not (0x0806 or 0x8035))
            {
                throw TracePacketBuilder.Bad("ArpOpcode", opcode.ToString(CultureInfo.InvariantCulture), "an ARP opcode needs -Protocol arp or rarp.");
            }
            parts.Add($"arp operation {TracePacketBuilder.Range("ArpOpcode", opcode, 0, 65535)}");
        }
        if (fromHost && direction == TraceDirection.Out)
        {
            throw TracePacketBuilder.Bad("FromHost", "true", "a packet from the host goes to the VM: it cannot be traced with -Direction Out.");
        }
        return new LiveTraceMatch { Expression = string.Join(' ', parts), Direction = fromHost ? TraceDirection.In : direction, FromHostOnly = fromHost };
    }

    // The simulation's parsers (TracePacketBuilder), so a field means the same in both modes; a MAC may also use '-'.
    private static string Mac(string field, string text) =>
        string.Join(':', TracePacketBuilder.ParseMac(field, text.Replace('-', ':'))!.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    private static IPAddress? Address(string field, string? text) => TracePacketBuilder.ParseIp(field, text);

    private static void RequireIp(string field, (ushort EtherType, byte? IpProtocol, bool Ipv6Form)? protocol, AddressFamily? family)
    {
        if (family is null && protocol?.EtherType is not (0x0800 or 0x86dd))
        {
            throw TracePacketBuilder.Bad(field, null, $"{field} needs an IP protocol or an address.");
        }
    }
}
