using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Trace;

/// <summary>
/// A packet as a user describes it: every field text (as typed) or null for the default. See
/// <see cref="TracePacketBuilder.Build"/> for the defaults.
/// </summary>
public sealed record TracePacketDescription
{
    /// <summary>To or from the VM.</summary>
    public TraceDirection Direction { get; init; } = TraceDirection.Out;

    /// <summary>The protocol: mac, arp, rarp, ip, ipv6, tcp, udp, udplite, sctp, icmp, igmp, esp, ah, icmpv6, or a -ipv6 form (tcp-ipv6, ...).</summary>
    public string Protocol { get; init; } = "tcp";

    /// <summary>The Ethernet source address, or null.</summary>
    public string? SourceMac { get; init; }

    /// <summary>The Ethernet destination address, or null.</summary>
    public string? DestinationMac { get; init; }

    /// <summary>The Ethernet type of a <c>mac</c> packet (<c>0x88b5</c> or decimal), or null.</summary>
    public string? EtherType { get; init; }

    /// <summary>The IP source address (ARP: the sender's), or null.</summary>
    public string? SourceAddress { get; init; }

    /// <summary>The IP destination address (ARP: the target's), or null.</summary>
    public string? DestinationAddress { get; init; }

    /// <summary>The transport source port, or null.</summary>
    public int? SourcePort { get; init; }

    /// <summary>The transport destination port, or null.</summary>
    public int? DestinationPort { get; init; }

    /// <summary>The ICMP/ICMPv6 type, or null (echo request).</summary>
    public int? IcmpType { get; init; }

    /// <summary>The ICMP/ICMPv6 code, or null (0).</summary>
    public int? IcmpCode { get; init; }

    /// <summary>The TCP flags, comma separated (<c>SYN</c>, <c>SYN,ACK</c>, <c>NONE</c>), or null.</summary>
    public string? TcpFlags { get; init; }

    /// <summary>The DSCP value (0-63), or null (0).</summary>
    public int? Dscp { get; init; }

    /// <summary>The ARP opcode (1 request, 2 reply; RARP 3, 4), or null (1, or 3 for RARP).</summary>
    public int? ArpOpcode { get; init; }

    /// <summary>The ARP sender hardware address, or null (the Ethernet source).</summary>
    public string? ArpSenderMac { get; init; }

    /// <summary>The ARP target hardware address, or null (the Ethernet destination, 00:00:00:00:00:00 when that is broadcast).</summary>
    public string? ArpTargetMac { get; init; }

    /// <summary>The connection state, or null (New for a TCP SYN and anything not TCP, Established otherwise).</summary>
    public TraceConnectionState? ConnectionState { get; init; }

    /// <summary>The side of the connection, or null (Original).</summary>
    public TraceConnectionDirection? ConnectionDirection { get; init; }

    /// <summary>True for a packet from the VM addressed to the host itself.</summary>
    public bool ToHost { get; init; }

    /// <summary>True for a packet to the VM sent by the host itself (it meets no forward chain, only the bridge's).</summary>
    public bool FromHost { get; init; }
}

/// <summary>
/// Turns a <see cref="TracePacketDescription"/> into a <see cref="TracePacket"/>. The VM's side of the packet (its
/// source for Out, its destination for In) defaults to the VM's MAC and address; the other side to documentation
/// addresses (<c>02:00:00:00:00:01</c>, <c>192.0.2.1</c>, <c>2001:db8::1</c>; ARP's target MAC
/// <c>00:00:00:00:00:00</c> and the broadcast destination). A field that cannot be read fails with
/// <see cref="TraceCodes.BadPacketField"/> naming it; nothing is guessed from a bad value.
/// </summary>
public static class TracePacketBuilder
{
    internal const ushort EtherIPv4 = 0x0800;
    internal const ushort EtherIPv6 = 0x86dd;
    internal const ushort EtherArp = 0x0806;
    internal const ushort EtherRarp = 0x8035;

    /// <summary>The peer MAC used when none is given.</summary>
    public static PhysicalAddress PeerMac { get; } = new([0x02, 0, 0, 0, 0, 0x01]);

    /// <summary>The broadcast MAC.</summary>
    public static PhysicalAddress BroadcastMac { get; } = new([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

    private static readonly IPAddress PeerIPv4 = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress PeerIPv6 = IPAddress.Parse("2001:db8::1");

    private static readonly Dictionary<string, (ushort EtherType, byte? IpProtocol, bool Ipv6Form)> Protocols = new(StringComparer.OrdinalIgnoreCase)
    {
        ["mac"] = (0, null, false),
        ["arp"] = (EtherArp, null, false),
        ["rarp"] = (EtherRarp, null, false),
        ["ip"] = (EtherIPv4, 255, false),
        ["ipv4"] = (EtherIPv4, 255, false),
        ["ipv6"] = (EtherIPv6, 59, true),
        ["tcp"] = (EtherIPv4, 6, false),
        ["udp"] = (EtherIPv4, 17, false),
        ["udplite"] = (EtherIPv4, 136, false),
        ["sctp"] = (EtherIPv4, 132, false),
        ["icmp"] = (EtherIPv4, 1, false),
        ["igmp"] = (EtherIPv4, 2, false),
        ["esp"] = (EtherIPv4, 50, false),
        ["ah"] = (EtherIPv4, 51, false),
        ["icmpv6"] = (EtherIPv6, 58, true),
        ["tcp-ipv6"] = (EtherIPv6, 6, true),
        ["udp-ipv6"] = (EtherIPv6, 17, true),
        ["udplite-ipv6"] = (EtherIPv6, 136, true),
        ["sctp-ipv6"] = (EtherIPv6, 132, true),
        ["esp-ipv6"] = (EtherIPv6, 50, true),
        ["ah-ipv6"] = (EtherIPv6, 51, true),
    };

    /// <summary>A protocol name's ethertype, IP protocol (255 or 59: none) and whether it is the IPv6 form.</summary>
    internal static bool TryProtocol(string name, out (ushort EtherType, byte? IpProtocol, bool Ipv6Form) protocol) =>
        Protocols.TryGetValue(name, out protocol);

    /// <summary>The protocol names a description may use.</summary>
    public static IReadOnlyCollection<string> ProtocolNames => Protocols.Keys;

    /// <summary>True for IP protocols with ports.</summary>
    internal static bool HasPorts(byte? protocol) => protocol is 6 or 17 or 136 or 132 or 33;

    /// <summary>
    /// Builds the packet. <paramref name="vmMac"/> and <paramref name="vmAddresses"/> (the binding's <c>IP</c> and
    /// <c>IPV6</c> values; may be empty) fill the VM's side.
    /// </summary>
    /// <exception cref="NwFilterException">A field cannot be read or does not fit the protocol (code <see cref="TraceCodes.BadPacketField"/>, the field in <see cref="Diagnostic.Attribute"/>).</exception>
    public static TracePacket Build(TracePacketDescription description, PhysicalAddress? vmMac, IReadOnlyList<IPAddress> vmAddresses)
    {
        ArgumentNullException.ThrowIfNull(description);
        ArgumentNullException.ThrowIfNull(vmAddresses);
        var d = description;
        if (!Protocols.TryGetValue(d.Protocol ?? "", out var proto))
        {
            throw Bad("Protocol", d.Protocol, $"'{d.Protocol}' is not a protocol the trace knows; use one of {string.Join(", ", Protocols.Keys)}.");
        }
        var protocolName = d.Protocol!.ToLowerInvariant();
        var outbound = d.Direction == TraceDirection.Out;
        if (d.ToHost && !outbound)
        {
            throw Bad("ToHost", "true", "A packet to the host comes from the VM: give -Direction Out with -ToHost.");
        }
        if (d.FromHost && outbound)
        {
            throw Bad("FromHost", "true", "A packet from the host goes to the VM: give -Direction In with -FromHost.");
        }

        var isArp = proto.EtherType is EtherArp or EtherRarp;
        var source = ParseMac("SourceMac", d.SourceMac);
        var destination = ParseMac("DestinationMac", d.DestinationMac);
        var vmSideMac = vmMac;
        var srcMac = source ?? (outbound ? vmSideMac : null) ?? PeerMac;
        var dstMac = destination ?? (!outbound ? vmSideMac : null) ?? (isArp ? BroadcastMac : PeerMac);

        var etherType = proto.EtherType;
        if (protocolName == "mac")
        {
            etherType = d.EtherType is null
                ? throw Bad("EtherType", null, "A mac packet needs -EtherType (such as 0x88b5).")
                : ParseNumber("EtherType", d.EtherType, 0, 0xffff);
        }
        else if (d.EtherType is not null)
        {
            throw Bad("EtherType", d.EtherType, $"-EtherType is only for -Protocol mac; a {protocolName} packet's type is 0x{etherType:x4}.");
        }

        var family = proto.EtherType == EtherIPv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        IPAddress? srcIp = null, dstIp = null;
        if (proto.EtherType is EtherIPv4 or EtherIPv6 or EtherArp or EtherRarp)
        {
            var sourceGiven = ParseIp("SourceAddress", d.SourceAddress);
            var destinationGiven = ParseIp("DestinationAddress", d.DestinationAddress);
            if (!proto.Ipv6Form && !isArp && (sourceGiven ?? destinationGiven) is { AddressFamily: AddressFamily.InterNetworkV6 })
            {
                // tcp, udp, ... with IPv6 addresses: the IPv6 packet of that protocol.
                family = AddressFamily.InterNetworkV6;
                etherType = EtherIPv6;
                if (protocolName is "ip" or "ipv4")
                {
                    throw Bad("SourceAddress", (sourceGiven ?? destinationGiven)!.ToString(), "An ip (IPv4) packet cannot have an IPv6 address; use -Protocol ipv6.");
                }
                if (protocolName == "icmp")
                {
                    throw Bad("Protocol", protocolName, "ICMP over IPv6 is -Protocol icmpv6.");
                }
            }
            CheckFamily("SourceAddress", sourceGiven, family, protocolName);
            CheckFamily("DestinationAddress", destinationGiven, family, protocolName);
            var vmIp = vmAddresses.FirstOrDefault(a => a.AddressFamily == family);
            var peer = family == AddressFamily.InterNetworkV6 ? PeerIPv6 : PeerIPv4;
            srcIp = sourceGiven ?? (outbound ? vmIp : null) ?? peer;
            dstIp = destinationGiven ?? (!outbound ? vmIp : null) ?? peer;
        }
        else if (d.SourceAddress is not null || d.DestinationAddress is not null)
        {
            throw Bad(d.SourceAddress is not null ? "SourceAddress" : "DestinationAddress", d.SourceAddress ?? d.DestinationAddress,
                "A mac packet has no IP addresses.");
        }

        var ipProtocol = proto.EtherType is EtherIPv4 or EtherIPv6 ? proto.IpProtocol : null;
        ushort? sport = null, dport = null;
        if (HasPorts(ipProtocol))
        {
            sport = (ushort)Range("SourcePort", d.SourcePort ?? 49152, 0, 65535);
            dport = d.DestinationPort is null
                ? throw Bad("DestinationPort", null, $"A {protocolName} packet needs -DestinationPort.")
                : (ushort)Range("DestinationPort", d.DestinationPort.Value, 0, 65535);
        }
        else if (d.SourcePort is not null || d.DestinationPort is not null)
        {
            throw Bad(d.SourcePort is not null ? "SourcePort" : "DestinationPort", (d.SourcePort ?? d.DestinationPort)!.Value.ToString(CultureInfo.InvariantCulture),
                $"A {protocolName} packet has no ports.");
        }

        byte? icmpType = null, icmpCode = null;
        if (ipProtocol is 1 or 58)
        {
            icmpType = (byte)Range("IcmpType", d.IcmpType ?? (ipProtocol == 1 ? 8 : 128), 0, 255);
            icmpCode = (byte)Range("IcmpCode", d.IcmpCode ?? 0, 0, 255);
        }
        else if (d.IcmpType is not null || d.IcmpCode is not null)
        {
            throw Bad(d.IcmpType is not null ? "IcmpType" : "IcmpCode", null, $"A {protocolName} packet has no ICMP type or code.");
        }

        int? tcpFlags = null;
        if (ipProtocol == 6)
        {
            tcpFlags = d.TcpFlags is null
                ? (d.ConnectionState is null or TraceConnectionState.New ? 0x02 : 0x10)
                : ParseTcpFlags(d.TcpFlags);
        }
        else if (d.TcpFlags is not null)
        {
            throw Bad("TcpFlags", d.TcpFlags, $"A {protocolName} packet has no TCP flags.");
        }

        byte tos = 0;
        if (d.Dscp is { } dscp)
        {
            if (ipProtocol is null)
            {
                throw Bad("Dscp", dscp.ToString(CultureInfo.InvariantCulture), $"A {protocolName} packet has no DSCP.");
            }
            tos = (byte)(Range("Dscp", dscp, 0, 63) << 2);
        }

        ushort? opcode = null;
        var arpSender = ParseMac("ArpSenderMac", d.ArpSenderMac);
        var arpTarget = ParseMac("ArpTargetMac", d.ArpTargetMac);
        if (!isArp && (arpSender ?? arpTarget) is not null)
        {
            throw Bad(arpSender is not null ? "ArpSenderMac" : "ArpTargetMac", d.ArpSenderMac ?? d.ArpTargetMac, $"A {protocolName} packet has no ARP addresses.");
        }
        if (isArp)
        {
            opcode = (ushort)Range("ArpOpcode", d.ArpOpcode ?? (proto.EtherType == EtherRarp ? 3 : 1), 0, 65535);
        }
        else if (d.ArpOpcode is not null)
        {
            throw Bad("ArpOpcode", d.ArpOpcode.Value.ToString(CultureInfo.InvariantCulture), $"A {protocolName} packet has no ARP opcode.");
        }

        var isIp = ipProtocol is not null;
        if (!isIp && (d.ConnectionState is not null || d.ConnectionDirection is not null))
        {
            throw Bad(d.ConnectionState is not null ? "ConnectionState" : "ConnectionDirection", null,
                $"A {protocolName} frame is not connection-tracked; connection state is for IP packets.");
        }
        if (d.ConnectionState == TraceConnectionState.New && d.ConnectionDirection == TraceConnectionDirection.Reply)
        {
            throw Bad("ConnectionDirection", "Reply", "A New packet always travels the original direction.");
        }
        if (d.ToHost && !isIp)
        {
            throw Bad("ToHost", "true", $"Only IP packets meet the host's layer-4 chains; a {protocolName} frame to the host is traced on the bridge only (leave -ToHost out).");
        }

        return new TracePacket
        {
            Direction = d.Direction,
            ToHost = d.ToHost,
            FromHost = d.FromHost,
            SourceMac = srcMac,
            DestinationMac = dstMac,
            EtherType = etherType,
            Protocol = protocolName == "tcp" || protocolName == "udp" ? (family == AddressFamily.InterNetworkV6 ? protocolName + "-ipv6" : protocolName) : protocolName,
            SourceAddress = srcIp,
            DestinationAddress = dstIp,
            IpProtocol = ipProtocol,
            Tos = tos,
            SourcePort = sport,
            DestinationPort = dport,
            TcpFlags = tcpFlags,
            IcmpType = icmpType,
            IcmpCode = icmpCode,
            ArpOpcode = opcode,
            ArpSenderMac = isArp ? arpSender ?? srcMac : null,
            ArpTargetMac = isArp ? arpTarget ?? (destination is not null && !destination.Equals(BroadcastMac) ? destination : PhysicalAddress.Parse("000000000000")) : null,
            ConnectionState = d.ConnectionState ?? (tcpFlags is { } f && (f & 0x12) != 0x02 ? TraceConnectionState.Established : TraceConnectionState.New),
            ConnectionDirection = d.ConnectionDirection ?? TraceConnectionDirection.Original,
        };
    }

    private static void CheckFamily(string field, IPAddress? address, AddressFamily family, string protocol)
    {
        if (address is not null && address.AddressFamily != family)
        {
            throw Bad(field, address.ToString(), $"'{address}' is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address, as a {protocol} packet needs.");
        }
    }

    internal static PhysicalAddress? ParseMac(string field, string? text)
    {
        if (text is null)
        {
            return null;
        }
        Span<byte> mac = stackalloc byte[6];
        return TextParsers.TryParseMac(text.Trim(), mac)
            ? new PhysicalAddress(mac.ToArray())
            : throw Bad(field, text, $"'{text}' is not a MAC address (such as 52:54:00:12:34:56).");
    }

    internal static IPAddress? ParseIp(string field, string? text)
    {
        if (text is null)
        {
            return null;
        }
        var t = text.Trim();
        if (TextParsers.TryParseIPv4(t, out var v4) && v4 is not null)
        {
            return v4;
        }
        if (TextParsers.TryParseIPv6(t, out var v6) && v6 is not null)
        {
            return v6;
        }
        throw Bad(field, text, $"'{text}' is not an IP address.");
    }

    internal static ushort ParseNumber(string field, string text, int min, int max)
    {
        var t = text.Trim();
        var ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? int.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            : int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        return ok && value >= min && value <= max
            ? (ushort)value
            : throw Bad(field, text, $"'{text}' is not a number from {min} to 0x{max:x} (decimal or 0x hexadecimal).");
    }

    internal static int Range(string field, int value, int min, int max) =>
        value >= min && value <= max ? value
            : throw Bad(field, value.ToString(CultureInfo.InvariantCulture), $"{value} is out of range: {field} is {min} to {max}.");

    private static readonly string[] FlagNames = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];

    /// <summary>Comma-separated TCP flag names (FIN, SYN, RST, PSH, ACK, URG, ALL, NONE) as bits.</summary>
    internal static int ParseTcpFlags(string text)
    {
        var bits = 0;
        foreach (var item in text.Split([',', ' ', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (item.Equals("ALL", StringComparison.OrdinalIgnoreCase))
            {
                bits = 0x3f;
                continue;
            }
            if (item.Equals("NONE", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var index = Array.FindIndex(FlagNames, f => f.Equals(item, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                throw Bad("TcpFlags", text, $"'{item}' is not a TCP flag; use FIN, SYN, RST, PSH, ACK, URG, ALL or NONE, comma separated.");
            }
            bits |= 1 << index;
        }
        return bits;
    }

    internal static string FormatTcpFlags(int bits) =>
        bits == 0 ? "NONE" : string.Join(',', FlagNames.Where((_, i) => (bits & (1 << i)) != 0));

    internal static NwFilterException Bad(string field, string? value, string message) =>
        new(Diagnostic.Error(TraceCodes.BadPacketField, $"Packet field {field}: {message}", DiagnosticCategory.InvalidArgument)
            with { Attribute = field, Value = value });
}

/// <summary>The diagnostic codes of the packet trace.</summary>
public static class TraceCodes
{
    /// <summary>A field of a packet description cannot be read or does not fit the packet.</summary>
    public const string BadPacketField = "TracePacketFieldInvalid";

    /// <summary>A pcap file cannot be read.</summary>
    public const string BadCapture = "TraceCaptureInvalid";

    /// <summary>The port has no binding to trace.</summary>
    public const string NoBinding = "TraceNoBinding";

    /// <summary>-Live on an EbIpTables binding whose xtables tools are not the nf_tables variants (legacy, missing, unknown).</summary>
    public const string LiveNotTraceable = "TraceLiveNotTraceable";

    /// <summary>The binding's filter waits for its IP address to be learned; there are no rules to trace yet.</summary>
    public const string NeedsIpLearning = "TraceNeedsIpLearning";
}
