namespace NwFilter.Core.Model;

/// <summary>What a rule does with a matching packet (libvirt's <c>action</c>).</summary>
public enum RuleAction
{
    /// <summary>Drop the packet silently.</summary>
    Drop,
    /// <summary>Accept the packet: later rules of the chain and its sub-chains are not consulted.</summary>
    Accept,
    /// <summary>Drop the packet and answer the sender (an ICMP error or a TCP reset).</summary>
    Reject,
    /// <summary>Stop evaluating this (sub-)chain and continue in the calling chain.</summary>
    Return,
    /// <summary>Go on to the next rule: the match has no verdict (used to count or set state).</summary>
    Continue,
}

/// <summary>
/// Which traffic a rule applies to, seen from the VM: <c>out</c> is traffic the VM sends,
/// <c>in</c> is traffic the VM receives, <c>inout</c> is both.
/// </summary>
public enum RuleDirection
{
    /// <summary>Traffic the VM receives.</summary>
    In,
    /// <summary>Traffic the VM sends.</summary>
    Out,
    /// <summary>Traffic in both directions.</summary>
    InOut,
}

/// <summary>The firewall layer a protocol's rules compile to.</summary>
public enum ProtocolLayer
{
    /// <summary>Ethernet-level rules: ebtables (and the bridge family in nftables).</summary>
    Ethernet,
    /// <summary>IPv4 layer-4 rules: iptables.</summary>
    IPv4,
    /// <summary>IPv6 layer-4 rules: ip6tables.</summary>
    IPv6,
}

/// <summary>
/// The protocol of a rule: the name of its protocol element. <see cref="None"/> is a rule without one,
/// which matches every frame of its chain.
/// </summary>
public enum ProtocolKind
{
    /// <summary>No protocol element: the rule matches every frame of its chain.</summary>
    None,
    /// <summary>The <c>mac</c> element: Ethernet header matches (an Ethernet-layer rule).</summary>
    Mac,
    /// <summary>The <c>vlan</c> element: 802.1Q tag matches (an Ethernet-layer rule).</summary>
    Vlan,
    /// <summary>The <c>stp</c> element: spanning-tree BPDU matches (an Ethernet-layer rule).</summary>
    Stp,
    /// <summary>The <c>arp</c> element: ARP matches (an Ethernet-layer rule).</summary>
    Arp,
    /// <summary>The <c>rarp</c> element: reverse-ARP matches (an Ethernet-layer rule).</summary>
    Rarp,
    /// <summary>The <c>ip</c> element: IPv4 header matches at the Ethernet layer (an Ethernet-layer rule).</summary>
    Ip,
    /// <summary>The <c>ipv6</c> element: IPv6 header matches at the Ethernet layer (an Ethernet-layer rule).</summary>
    Ipv6,
    /// <summary>The <c>tcp</c> element: TCP over IPv4 (an IPv4-layer rule).</summary>
    Tcp,
    /// <summary>The <c>udp</c> element: UDP over IPv4 (an IPv4-layer rule).</summary>
    Udp,
    /// <summary>The <c>udplite</c> element: UDP-Lite over IPv4 (an IPv4-layer rule).</summary>
    Udplite,
    /// <summary>The <c>esp</c> element: ESP over IPv4 (an IPv4-layer rule).</summary>
    Esp,
    /// <summary>The <c>ah</c> element: AH over IPv4 (an IPv4-layer rule).</summary>
    Ah,
    /// <summary>The <c>sctp</c> element: SCTP over IPv4 (an IPv4-layer rule).</summary>
    Sctp,
    /// <summary>The <c>icmp</c> element: ICMP over IPv4 (an IPv4-layer rule).</summary>
    Icmp,
    /// <summary>The <c>igmp</c> element: IGMP over IPv4 (an IPv4-layer rule).</summary>
    Igmp,
    /// <summary>The <c>all</c> element: any IPv4 traffic (an IPv4-layer rule).</summary>
    All,
    /// <summary>The <c>tcp-ipv6</c> element: TCP over IPv6 (an IPv6-layer rule).</summary>
    TcpIpv6,
    /// <summary>The <c>udp-ipv6</c> element: UDP over IPv6 (an IPv6-layer rule).</summary>
    UdpIpv6,
    /// <summary>The <c>udplite-ipv6</c> element: UDP-Lite over IPv6 (an IPv6-layer rule).</summary>
    UdpliteIpv6,
    /// <summary>The <c>esp-ipv6</c> element: ESP over IPv6 (an IPv6-layer rule).</summary>
    EspIpv6,
    /// <summary>The <c>ah-ipv6</c> element: AH over IPv6 (an IPv6-layer rule).</summary>
    AhIpv6,
    /// <summary>The <c>sctp-ipv6</c> element: SCTP over IPv6 (an IPv6-layer rule).</summary>
    SctpIpv6,
    /// <summary>The <c>icmpv6</c> element: ICMPv6 (an IPv6-layer rule).</summary>
    Icmpv6,
    /// <summary>The <c>all-ipv6</c> element: any IPv6 traffic (an IPv6-layer rule).</summary>
    AllIpv6,
}

/// <summary>
/// The datatypes an attribute value may take, as libvirt knows them. The declaration order is the order in which a
/// literal is tried against an attribute's allowed types: the first that parses wins.
/// </summary>
[Flags]
public enum DataType
{
    /// <summary>No datatype.</summary>
    None = 0,
    /// <summary>A decimal number from 0 to 65535.</summary>
    UInt16 = 1 << 0,
    /// <summary>A decimal number from 0 to 255.</summary>
    UInt8 = 1 << 1,
    /// <summary>A hexadecimal number (<c>0x</c>...) from 0 to 0xffff.</summary>
    UInt16Hex = 1 << 2,
    /// <summary>A hexadecimal number (<c>0x</c>...) from 0 to 0xff.</summary>
    UInt8Hex = 1 << 3,
    /// <summary>A MAC address, <c>52:54:00:12:34:56</c>.</summary>
    MacAddress = 1 << 4,
    /// <summary>A MAC mask, written as a MAC address.</summary>
    MacMask = 1 << 5,
    /// <summary>A dotted-quad IPv4 address.</summary>
    IPv4Address = 1 << 6,
    /// <summary>An IPv4 mask: a dotted quad or a prefix length.</summary>
    IPv4Mask = 1 << 7,
    /// <summary>A string checked by the attribute's own validator (a symbolic name, a state list, TCP flags).</summary>
    String = 1 << 8,
    /// <summary>An IPv6 address.</summary>
    IPv6Address = 1 << 9,
    /// <summary>An IPv6 mask: an address or a prefix length.</summary>
    IPv6Mask = 1 << 10,
    /// <summary>Free text, kept as written (comments).</summary>
    StringCopy = 1 << 11,
    /// <summary>A truth value: <c>true</c>, <c>yes</c> or <c>1</c> is true, anything else false.</summary>
    Boolean = 1 << 12,
    /// <summary>A decimal number from 0 to 4294967295.</summary>
    UInt32 = 1 << 13,
    /// <summary>A hexadecimal number (<c>0x</c>...) from 0 to 0xffffffff.</summary>
    UInt32Hex = 1 << 14,
    /// <summary>The name of an ipset (<c>ipset</c> attribute).</summary>
    IpSetName = 1 << 15,
    /// <summary>An ipset's direction flags, such as <c>src,dst</c> (<c>ipsetflags</c> attribute).</summary>
    IpSetFlags = 1 << 16,
}
