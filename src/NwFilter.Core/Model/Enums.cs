namespace NwFilter.Core.Model;

/// <summary>What a rule does with a matching packet (libvirt's <c>action</c>).</summary>
public enum RuleAction
{
    Drop,
    Accept,
    Reject,
    Return,
    Continue,
}

/// <summary>
/// Which traffic a rule applies to, seen from the VM: <c>out</c> is traffic the VM sends,
/// <c>in</c> is traffic the VM receives, <c>inout</c> is both.
/// </summary>
public enum RuleDirection
{
    In,
    Out,
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
    None,
    Mac,
    Vlan,
    Stp,
    Arp,
    Rarp,
    Ip,
    Ipv6,
    Tcp,
    Udp,
    Udplite,
    Esp,
    Ah,
    Sctp,
    Icmp,
    Igmp,
    All,
    TcpIpv6,
    UdpIpv6,
    UdpliteIpv6,
    EspIpv6,
    AhIpv6,
    SctpIpv6,
    Icmpv6,
    AllIpv6,
}

/// <summary>
/// The datatypes an attribute value may take, as libvirt knows them. The declaration order is the order in which a
/// literal is tried against an attribute's allowed types: the first that parses wins.
/// </summary>
[Flags]
public enum DataType
{
    None = 0,
    UInt16 = 1 << 0,
    UInt8 = 1 << 1,
    UInt16Hex = 1 << 2,
    UInt8Hex = 1 << 3,
    MacAddress = 1 << 4,
    MacMask = 1 << 5,
    IPv4Address = 1 << 6,
    IPv4Mask = 1 << 7,
    /// <summary>A string checked by the attribute's own validator (a symbolic name, a state list, TCP flags).</summary>
    String = 1 << 8,
    IPv6Address = 1 << 9,
    IPv6Mask = 1 << 10,
    /// <summary>Free text, kept as written (comments).</summary>
    StringCopy = 1 << 11,
    Boolean = 1 << 12,
    UInt32 = 1 << 13,
    UInt32Hex = 1 << 14,
    IpSetName = 1 << 15,
    IpSetFlags = 1 << 16,
}
