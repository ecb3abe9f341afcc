using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace NwFilter.Core.Trace;

/// <summary>Which way a traced packet crosses the VM's port.</summary>
public enum TraceDirection
{
    /// <summary>To the VM (libvirt's direction <c>in</c>; ebtables <c>libvirt-O-IF</c>/iptables <c>FP-IF</c>, nft O and FO).</summary>
    In,
    /// <summary>From the VM (direction <c>out</c>; ebtables <c>libvirt-I-IF</c>/iptables <c>FJ-IF</c> or <c>HJ-IF</c>, nft I and FI or HI).</summary>
    Out,
}

/// <summary>The connection-tracking state a traced IP packet has (what <c>ct state</c>/<c>-m conntrack</c> sees).</summary>
public enum TraceConnectionState
{
    /// <summary>The first packet of a connection.</summary>
    New,
    /// <summary>A packet of a connection that has seen traffic both ways.</summary>
    Established,
    /// <summary>A packet related to an existing connection (an ICMP error, an FTP data connection).</summary>
    Related,
    /// <summary>A packet conntrack cannot place.</summary>
    Invalid,
}

/// <summary>Which side of its connection a traced packet travels (<c>ct direction</c>).</summary>
public enum TraceConnectionDirection
{
    /// <summary>From the side that opened the connection.</summary>
    Original,
    /// <summary>From the side that answered.</summary>
    Reply,
}

/// <summary>
/// A packet to trace, every field decided: the Ethernet header, the ARP or IP header and the transport header as the
/// filter's matches see them, plus what the kernel knows beside the bytes (the direction across the port, whether it is
/// addressed to the host, its connection state). Built by <see cref="TracePacketBuilder"/> from a description or by
/// <see cref="PcapFile"/> from a captured frame.
/// </summary>
public sealed record TracePacket
{
    /// <summary>To or from the VM.</summary>
    public TraceDirection Direction { get; internal init; }

    /// <summary>True for a packet from the VM addressed to the host itself (it meets HI/HJ, not FI/FJ).</summary>
    public bool ToHost { get; internal init; }

    /// <summary>True for a packet to the VM sent by the host itself (locally generated: it meets no forward chain, FO/FP).</summary>
    public bool FromHost { get; internal init; }

    /// <summary>The Ethernet source address.</summary>
    public PhysicalAddress SourceMac { get; internal init; } = PhysicalAddress.None;

    /// <summary>The Ethernet destination address.</summary>
    public PhysicalAddress DestinationMac { get; internal init; } = PhysicalAddress.None;

    /// <summary>The Ethernet type (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP, 0x8035 RARP, ...).</summary>
    public ushort EtherType { get; internal init; }

    /// <summary>The protocol name the packet was described with (<c>tcp</c>, <c>arp</c>, <c>icmpv6</c>, ...).</summary>
    public string Protocol { get; internal init; } = "";

    /// <summary>The IP source address (for ARP and RARP: the sender's protocol address), or null.</summary>
    public IPAddress? SourceAddress { get; internal init; }

    /// <summary>The IP destination address (for ARP and RARP: the target's protocol address), or null.</summary>
    public IPAddress? DestinationAddress { get; internal init; }

    /// <summary>The IP protocol (next header) number, or null for a frame that is not IP.</summary>
    public byte? IpProtocol { get; internal init; }

    /// <summary>The IPv4 TOS byte or IPv6 traffic class (DSCP in its upper six bits).</summary>
    public byte Tos { get; internal init; }

    /// <summary>The transport source port (TCP, UDP, UDP-Lite, SCTP), or null.</summary>
    public ushort? SourcePort { get; internal init; }

    /// <summary>The transport destination port, or null.</summary>
    public ushort? DestinationPort { get; internal init; }

    /// <summary>The TCP flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32), or null for a packet that is not TCP.</summary>
    public int? TcpFlags { get; internal init; }

    /// <summary>The ICMP or ICMPv6 type, or null.</summary>
    public byte? IcmpType { get; internal init; }

    /// <summary>The ICMP or ICMPv6 code, or null.</summary>
    public byte? IcmpCode { get; internal init; }

    /// <summary>The ARP opcode (1 request, 2 reply, 3/4 RARP), or null.</summary>
    public ushort? ArpOpcode { get; internal init; }

    /// <summary>The ARP sender hardware address, or null.</summary>
    public PhysicalAddress? ArpSenderMac { get; internal init; }

    /// <summary>The ARP target hardware address, or null.</summary>
    public PhysicalAddress? ArpTargetMac { get; internal init; }

    /// <summary>The connection state (IP packets).</summary>
    public TraceConnectionState ConnectionState { get; internal init; }

    /// <summary>The side of the connection (IP packets).</summary>
    public TraceConnectionDirection ConnectionDirection { get; internal init; }

    /// <summary>True for IPv4 or IPv6.</summary>
    public bool IsIp => EtherType is TracePacketBuilder.EtherIPv4 or TracePacketBuilder.EtherIPv6;

    /// <summary>The address family of an IP packet.</summary>
    internal AddressFamily? IpFamily => EtherType switch
    {
        TracePacketBuilder.EtherIPv4 => AddressFamily.InterNetwork,
        TracePacketBuilder.EtherIPv6 => AddressFamily.InterNetworkV6,
        _ => null,
    };

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = $"{Direction} {Protocol} {Mac(SourceMac)} > {Mac(DestinationMac)}";
        if (SourceAddress is not null || DestinationAddress is not null)
        {
            text += $" {SourceAddress}{(SourcePort is { } sp ? ":" + sp : "")} > {DestinationAddress}{(DestinationPort is { } dp ? ":" + dp : "")}";
        }
        return IsIp ? $"{text} {ConnectionState}" : text;
    }

    internal static string Mac(PhysicalAddress? mac) =>
        mac is null ? "-" : Model.MacAddressText.Format(mac);
}
