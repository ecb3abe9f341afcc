using System.Collections.Frozen;
using System.Collections.Immutable;
using NwFilter.Core.Model;
using static NwFilter.Core.Model.AttributeId;
using static NwFilter.Core.Model.DataType;

namespace NwFilter.Core.Schema;

/// <summary>
/// One protocol element: its XML name, its layer, its attributes in table order (which is the order the writer
/// prints them in), and the negation-copy pairs applied after parsing.
/// </summary>
public sealed record ProtocolSchema(ProtocolKind Kind, string ElementName, ProtocolLayer Layer)
{
    /// <summary>The attributes, in libvirt's table order.</summary>
    public ImmutableArray<AttributeSpec> Attributes { get; init; } = [];

    /// <summary>
    /// After parsing, each pair's target takes its source's negation, whatever it had (libvirt's COPY_NEG_SIGN):
    /// so <c>srcipmask</c> is negated exactly when <c>srcipaddr</c> is.
    /// </summary>
    public ImmutableArray<(AttributeId From, AttributeId To)> NegationCopies { get; init; } = [];

    /// <summary>Whether the ipset fixup applies (an ipset without flags gets <c>src</c>; flags without a set are dropped).</summary>
    public bool IpSetFixup { get; init; }

    /// <summary>The attribute of this protocol with the given XML name, or null.</summary>
    public AttributeSpec? Find(string name)
    {
        foreach (var a in Attributes)
        {
            if (a.Name == name)
            {
                return a;
            }
        }
        return null;
    }

    /// <summary>The attribute of this protocol with the given id, or null.</summary>
    public AttributeSpec? Find(AttributeId id)
    {
        foreach (var a in Attributes)
        {
            if (a.Id == id)
            {
                return a;
            }
        }
        return null;
    }

    /// <inheritdoc/>
    public override string ToString() => ElementName;

    // ---------------------------------------------------------------------------------------------------------------
    // The table.

    private static readonly ImmutableArray<KeyValuePair<string, ulong>> EtherTypeNames =
    [
        new("arp", 0x0806), new("rarp", 0x8035), new("ipv4", 0x0800), new("ipv6", 0x86dd), new("vlan", 0x8100),
    ];

    private static readonly ImmutableArray<KeyValuePair<string, ulong>> ArpOpcodeNames =
    [
        new("Request", 1), new("Reply", 2), new("Request_Reverse", 3), new("Reply_Reverse", 4),
        new("DRARP_Request", 5), new("DRARP_Reply", 6), new("DRARP_Error", 7), new("InARP_Request", 8),
        new("ARP_NAK", 9),
    ];

    private static readonly ImmutableArray<KeyValuePair<string, ulong>> IpProtocolNames =
    [
        new("tcp", 6), new("udp", 17), new("udplite", 136), new("esp", 50), new("ah", 51), new("icmp", 1),
        new("igmp", 2), new("sctp", 132), new("icmpv6", 58),
    ];

    private const DataType U8 = DataType.UInt8 | UInt8Hex;
    private const DataType U16 = DataType.UInt16 | UInt16Hex;
    private const DataType U32 = DataType.UInt32 | UInt32Hex;

    private static AttributeSpec A(AttributeId id, string name, DataType types) => new(id, name, types);

    private static readonly AttributeSpec CommentSpec = new(Comment, "comment", StringCopy) { MaxLength = 256 };

    private static readonly AttributeSpec[] MacHeader =
    [
        A(SrcMacAddr, "srcmacaddr", MacAddress), A(SrcMacMask, "srcmacmask", MacMask),
        A(DstMacAddr, "dstmacaddr", MacAddress), A(DstMacMask, "dstmacmask", MacMask),
    ];

    private static readonly (AttributeId, AttributeId)[] MacMaskCopies = [(SrcMacAddr, SrcMacMask), (DstMacAddr, DstMacMask)];

    private static readonly (AttributeId, AttributeId)[] IpCopies =
        [(SrcIpAddr, SrcIpMask), (DstIpAddr, DstIpMask), (SrcIpFrom, SrcIpTo), (DstIpFrom, DstIpTo)];

    /// <summary>libvirt takes a port's negation from srcportstart, for every port attribute (a real quirk).</summary>
    private static readonly (AttributeId, AttributeId)[] PortCopies =
        [(SrcPortStart, SrcPortEnd), (SrcPortStart, DstPortStart), (SrcPortStart, DstPortEnd)];

    private static AttributeSpec[] Ports() =>
    [
        A(SrcPortStart, "srcportstart", U16), A(SrcPortEnd, "srcportend", U16),
        A(DstPortStart, "dstportstart", U16), A(DstPortEnd, "dstportend", U16),
    ];

    private static AttributeSpec Dscp() => new(AttributeId.Dscp, "dscp", U8) { Max = 63 };

    private static AttributeSpec[] L4Common(DataType address, DataType mask) =>
    [
        A(SrcMacAddr, "srcmacaddr", MacAddress),
        A(SrcIpAddr, "srcipaddr", address), A(SrcIpMask, "srcipmask", mask),
        A(DstIpAddr, "dstipaddr", address), A(DstIpMask, "dstipmask", mask),
        A(SrcIpFrom, "srcipfrom", address), A(SrcIpTo, "srcipto", address),
        A(DstIpFrom, "dstipfrom", address),
        // libvirt types dstipto as IPv4 even in the -ipv6 elements; kept for compatibility.
        A(DstIpTo, "dstipto", IPv4Address),
        Dscp(),
        A(ConnlimitAbove, "connlimit-above", DataType.UInt16),
        new(State, "state", DataType.String) { StringRule = StringRule.ConnectionState },
        A(IpSet, "ipset", IpSetName),
        A(AttributeId.IpSetFlags, "ipsetflags", DataType.IpSetFlags),
    ];

    private static ProtocolSchema L4(ProtocolKind kind, string name, bool ipv6, AttributeSpec[] extra, (AttributeId, AttributeId)[] copies) =>
        new(kind, name, ipv6 ? ProtocolLayer.IPv6 : ProtocolLayer.IPv4)
        {
            Attributes = [.. L4Common(ipv6 ? IPv6Address : IPv4Address, ipv6 ? IPv6Mask : IPv4Mask), .. extra, CommentSpec],
            NegationCopies = [.. IpCopies, .. copies],
            IpSetFixup = kind is not (ProtocolKind.All or ProtocolKind.AllIpv6),
        };

    private static AttributeSpec[] StpRange(AttributeId lo, string name, AttributeId hi, DataType types) =>
        [A(lo, name, types), A(hi, name + "-hi", types)];

    /// <summary>Every protocol element, keyed by kind.</summary>
    public static FrozenDictionary<ProtocolKind, ProtocolSchema> All { get; } = Build().ToFrozenDictionary(p => p.Kind);

    /// <summary>Every protocol element, keyed by XML element name.</summary>
    public static FrozenDictionary<string, ProtocolSchema> ByElementName { get; } =
        All.Values.Where(p => p.Kind != ProtocolKind.None).ToFrozenDictionary(p => p.ElementName, StringComparer.Ordinal);

    /// <summary>The schema of a protocol.</summary>
    public static ProtocolSchema Of(ProtocolKind kind) => All[kind];

    private static IEnumerable<ProtocolSchema> Build()
    {
        yield return new(ProtocolKind.None, "", ProtocolLayer.Ethernet);

        yield return new(ProtocolKind.Mac, "mac", ProtocolLayer.Ethernet)
        {
            Attributes =
            [
                .. MacHeader,
                new(ProtocolId, "protocolid", U16 | DataType.String) { Min = 0x600, StringRule = StringRule.Symbol, Symbols = EtherTypeNames },
                CommentSpec,
            ],
            NegationCopies = [.. MacMaskCopies],
        };

        yield return new(ProtocolKind.Vlan, "vlan", ProtocolLayer.Ethernet)
        {
            Attributes =
            [
                .. MacHeader,
                new(VlanId, "vlanid", U16) { Max = 4095 },
                new(EncapProtocol, "encap-protocol", U16 | DataType.String) { Min = 0x3c, StringRule = StringRule.Symbol, Symbols = EtherTypeNames },
                CommentSpec,
            ],
            NegationCopies = [.. MacMaskCopies],
        };

        yield return new(ProtocolKind.Stp, "stp", ProtocolLayer.Ethernet)
        {
            Attributes =
            [
                A(SrcMacAddr, "srcmacaddr", MacAddress), A(SrcMacMask, "srcmacmask", MacMask),
                A(StpType, "type", U8), A(StpFlags, "flags", U8),
                .. StpRange(RootPriority, "root-priority", RootPriorityHi, U16),
                A(RootAddress, "root-address", MacAddress), A(RootAddressMask, "root-address-mask", MacMask),
                .. StpRange(RootCost, "root-cost", RootCostHi, U32),
                .. StpRange(SenderPriority, "sender-priority", SenderPriorityHi, U16),
                A(SenderAddress, "sender-address", MacAddress), A(SenderAddressMask, "sender-address-mask", MacMask),
                .. StpRange(Port, "port", PortHi, U16),
                .. StpRange(Age, "age", AgeHi, U16),
                .. StpRange(MaxAge, "max-age", MaxAgeHi, U16),
                .. StpRange(HelloTime, "hello-time", HelloTimeHi, U16),
                .. StpRange(ForwardDelay, "forward-delay", ForwardDelayHi, U16),
                CommentSpec,
            ],
            NegationCopies =
            [
                (SrcMacAddr, SrcMacMask), (RootPriority, RootPriorityHi), (RootAddress, RootAddressMask),
                (RootCost, RootCostHi), (SenderPriority, SenderPriorityHi), (SenderAddress, SenderAddressMask),
                (Port, PortHi), (Age, AgeHi), (MaxAge, MaxAgeHi), (HelloTime, HelloTimeHi),
                (ForwardDelay, ForwardDelayHi),
            ],
        };

        foreach (var (kind, name) in new[] { (ProtocolKind.Arp, "arp"), (ProtocolKind.Rarp, "rarp") })
        {
            yield return new(kind, name, ProtocolLayer.Ethernet)
            {
                Attributes =
                [
                    .. MacHeader,
                    A(HwType, "hwtype", U16), A(ProtocolType, "protocoltype", U16),
                    new(Opcode, "opcode", U16 | DataType.String) { StringRule = StringRule.Symbol, Symbols = ArpOpcodeNames, UnnamedAsDecimal = true },
                    A(ArpSrcMacAddr, "arpsrcmacaddr", MacAddress), A(ArpDstMacAddr, "arpdstmacaddr", MacAddress),
                    A(ArpSrcIpAddr, "arpsrcipaddr", IPv4Address), A(ArpSrcIpMask, "arpsrcipmask", IPv4Mask),
                    A(ArpDstIpAddr, "arpdstipaddr", IPv4Address), A(ArpDstIpMask, "arpdstipmask", IPv4Mask),
                    A(Gratuitous, "gratuitous", DataType.Boolean),
                    CommentSpec,
                ],
            };
        }

        yield return new(ProtocolKind.Ip, "ip", ProtocolLayer.Ethernet)
        {
            Attributes =
            [
                .. MacHeader,
                A(SrcIpAddr, "srcipaddr", IPv4Address), A(SrcIpMask, "srcipmask", IPv4Mask),
                A(DstIpAddr, "dstipaddr", IPv4Address), A(DstIpMask, "dstipmask", IPv4Mask),
                new(IpProtocol, "protocol", DataType.String | U8) { StringRule = StringRule.Symbol, Symbols = IpProtocolNames },
                .. Ports(),
                Dscp(),
                CommentSpec,
            ],
            NegationCopies = [.. MacMaskCopies, (SrcIpAddr, SrcIpMask), (DstIpAddr, DstIpMask)],
            IpSetFixup = true,
        };

        yield return new(ProtocolKind.Ipv6, "ipv6", ProtocolLayer.Ethernet)
        {
            Attributes =
            [
                .. MacHeader,
                A(SrcIpAddr, "srcipaddr", IPv6Address), A(SrcIpMask, "srcipmask", IPv6Mask),
                A(DstIpAddr, "dstipaddr", IPv6Address), A(DstIpMask, "dstipmask", IPv6Mask),
                new(IpProtocol, "protocol", DataType.String | U8) { StringRule = StringRule.Symbol, Symbols = IpProtocolNames },
                .. Ports(),
                A(AttributeId.Type, "type", U8), A(TypeEnd, "typeend", U8),
                A(Code, "code", U8), A(CodeEnd, "codeend", U8),
                // NwFilter's own (not in libvirt's table): NDP target and link-layer address option, nftables only.
                A(NdTarget, "ndtarget", IPv6Address), A(NdLinkLayerAddress, "ndlladdr", MacAddress),
                CommentSpec,
            ],
            NegationCopies =
            [
                .. MacMaskCopies, (SrcIpAddr, SrcIpMask), (DstIpAddr, DstIpMask),
                (AttributeId.Type, TypeEnd), (AttributeId.Type, Code), (AttributeId.Type, CodeEnd),
            ],
            IpSetFixup = true,
        };

        AttributeSpec[] tcpTail = [.. Ports(), A(TcpOption, "option", U8)];
        AttributeSpec icmpType = A(AttributeId.Type, "type", U8), icmpCode = A(Code, "code", U8);
        (AttributeId, AttributeId)[] icmpCopies = [(AttributeId.Type, Code)];

        yield return L4(ProtocolKind.Tcp, "tcp", false,
            [.. tcpTail, new(TcpFlags, "flags", DataType.String) { StringRule = StringRule.TcpFlags }], PortCopies);
        yield return L4(ProtocolKind.Udp, "udp", false, Ports(), PortCopies);
        yield return L4(ProtocolKind.Udplite, "udplite", false, [], []);
        yield return L4(ProtocolKind.Esp, "esp", false, [], []);
        yield return L4(ProtocolKind.Ah, "ah", false, [], []);
        yield return L4(ProtocolKind.Sctp, "sctp", false, Ports(), PortCopies);
        yield return L4(ProtocolKind.Icmp, "icmp", false, [icmpType, icmpCode], icmpCopies);
        yield return L4(ProtocolKind.Igmp, "igmp", false, [], []);
        yield return L4(ProtocolKind.All, "all", false, [], []);
        yield return L4(ProtocolKind.TcpIpv6, "tcp-ipv6", true, tcpTail, PortCopies);
        yield return L4(ProtocolKind.UdpIpv6, "udp-ipv6", true, Ports(), PortCopies);
        yield return L4(ProtocolKind.UdpliteIpv6, "udplite-ipv6", true, [], []);
        yield return L4(ProtocolKind.EspIpv6, "esp-ipv6", true, [], []);
        yield return L4(ProtocolKind.AhIpv6, "ah-ipv6", true, [], []);
        yield return L4(ProtocolKind.SctpIpv6, "sctp-ipv6", true, Ports(), PortCopies);
        // NwFilter's own ndtarget and ndlladdr on icmpv6 too (not in libvirt's table): the layer-3 form of the NDP
        // guard, which ip6tables can test (u32) where ebtables cannot.
        yield return L4(ProtocolKind.Icmpv6, "icmpv6", true,
            [icmpType, icmpCode, A(NdTarget, "ndtarget", IPv6Address), A(NdLinkLayerAddress, "ndlladdr", MacAddress)], icmpCopies);
        yield return L4(ProtocolKind.AllIpv6, "all-ipv6", true, [], []);
    }
}
