namespace NwFilter.Core.Model;

/// <summary>
/// Every attribute a protocol element can carry. One attribute means the same thing in every protocol that has it;
/// which protocols have which attributes, and of which types, is <see cref="Schema.ProtocolSchema"/>'s table.
/// </summary>
public enum AttributeId
{
    /// <summary>The <c>srcmacaddr</c> attribute of a rule's protocol element.</summary>
    SrcMacAddr,
    /// <summary>The <c>srcmacmask</c> attribute of a rule's protocol element.</summary>
    SrcMacMask,
    /// <summary>The <c>dstmacaddr</c> attribute of a rule's protocol element.</summary>
    DstMacAddr,
    /// <summary>The <c>dstmacmask</c> attribute of a rule's protocol element.</summary>
    DstMacMask,
    /// <summary>The <c>protocolid</c> attribute of a rule's protocol element.</summary>
    ProtocolId,
    /// <summary>The <c>vlanid</c> attribute of a rule's protocol element.</summary>
    VlanId,
    /// <summary>The <c>encap-protocol</c> attribute of a rule's protocol element.</summary>
    EncapProtocol,
    /// <summary>The <c>type</c> attribute of a rule's protocol element.</summary>
    StpType,
    /// <summary>The <c>flags</c> attribute of a rule's protocol element.</summary>
    StpFlags,
    /// <summary>The <c>root-priority</c> attribute of a rule's protocol element.</summary>
    RootPriority,
    /// <summary>The <c>root-priority-hi</c> attribute: the upper end of the range that <c>root-priority</c> starts.</summary>
    RootPriorityHi,
    /// <summary>The <c>root-address</c> attribute of a rule's protocol element.</summary>
    RootAddress,
    /// <summary>The <c>root-address-mask</c> attribute of a rule's protocol element.</summary>
    RootAddressMask,
    /// <summary>The <c>root-cost</c> attribute of a rule's protocol element.</summary>
    RootCost,
    /// <summary>The <c>root-cost-hi</c> attribute: the upper end of the range that <c>root-cost</c> starts.</summary>
    RootCostHi,
    /// <summary>The <c>sender-priority</c> attribute of a rule's protocol element.</summary>
    SenderPriority,
    /// <summary>The <c>sender-priority-hi</c> attribute: the upper end of the range that <c>sender-priority</c> starts.</summary>
    SenderPriorityHi,
    /// <summary>The <c>sender-address</c> attribute of a rule's protocol element.</summary>
    SenderAddress,
    /// <summary>The <c>sender-address-mask</c> attribute of a rule's protocol element.</summary>
    SenderAddressMask,
    /// <summary>The <c>port</c> attribute of a rule's protocol element.</summary>
    Port,
    /// <summary>The <c>port-hi</c> attribute: the upper end of the range that <c>port</c> starts.</summary>
    PortHi,
    /// <summary>The <c>age</c> attribute of a rule's protocol element.</summary>
    Age,
    /// <summary>The <c>age-hi</c> attribute: the upper end of the range that <c>age</c> starts.</summary>
    AgeHi,
    /// <summary>The <c>max-age</c> attribute of a rule's protocol element.</summary>
    MaxAge,
    /// <summary>The <c>max-age-hi</c> attribute: the upper end of the range that <c>max-age</c> starts.</summary>
    MaxAgeHi,
    /// <summary>The <c>hello-time</c> attribute of a rule's protocol element.</summary>
    HelloTime,
    /// <summary>The <c>hello-time-hi</c> attribute: the upper end of the range that <c>hello-time</c> starts.</summary>
    HelloTimeHi,
    /// <summary>The <c>forward-delay</c> attribute of a rule's protocol element.</summary>
    ForwardDelay,
    /// <summary>The <c>forward-delay-hi</c> attribute: the upper end of the range that <c>forward-delay</c> starts.</summary>
    ForwardDelayHi,
    /// <summary>The <c>hwtype</c> attribute of a rule's protocol element.</summary>
    HwType,
    /// <summary>The <c>protocoltype</c> attribute of a rule's protocol element.</summary>
    ProtocolType,
    /// <summary>The <c>opcode</c> attribute of a rule's protocol element.</summary>
    Opcode,
    /// <summary>The <c>arpsrcmacaddr</c> attribute of a rule's protocol element.</summary>
    ArpSrcMacAddr,
    /// <summary>The <c>arpdstmacaddr</c> attribute of a rule's protocol element.</summary>
    ArpDstMacAddr,
    /// <summary>The <c>arpsrcipaddr</c> attribute of a rule's protocol element.</summary>
    ArpSrcIpAddr,
    /// <summary>The <c>arpsrcipmask</c> attribute of a rule's protocol element.</summary>
    ArpSrcIpMask,
    /// <summary>The <c>arpdstipaddr</c> attribute of a rule's protocol element.</summary>
    ArpDstIpAddr,
    /// <summary>The <c>arpdstipmask</c> attribute of a rule's protocol element.</summary>
    ArpDstIpMask,
    /// <summary>The <c>gratuitous</c> attribute of a rule's protocol element.</summary>
    Gratuitous,
    /// <summary>The <c>srcipaddr</c> attribute of a rule's protocol element.</summary>
    SrcIpAddr,
    /// <summary>The <c>srcipmask</c> attribute of a rule's protocol element.</summary>
    SrcIpMask,
    /// <summary>The <c>dstipaddr</c> attribute of a rule's protocol element.</summary>
    DstIpAddr,
    /// <summary>The <c>dstipmask</c> attribute of a rule's protocol element.</summary>
    DstIpMask,
    /// <summary>The <c>srcipfrom</c> attribute of a rule's protocol element.</summary>
    SrcIpFrom,
    /// <summary>The <c>srcipto</c> attribute of a rule's protocol element.</summary>
    SrcIpTo,
    /// <summary>The <c>dstipfrom</c> attribute of a rule's protocol element.</summary>
    DstIpFrom,
    /// <summary>The <c>dstipto</c> attribute of a rule's protocol element.</summary>
    DstIpTo,
    /// <summary>The IP protocol of an ebtables <c>ip</c>/<c>ipv6</c> rule (<c>protocol=</c>).</summary>
    IpProtocol,
    /// <summary>The <c>srcportstart</c> attribute of a rule's protocol element.</summary>
    SrcPortStart,
    /// <summary>The <c>srcportend</c> attribute of a rule's protocol element.</summary>
    SrcPortEnd,
    /// <summary>The <c>dstportstart</c> attribute of a rule's protocol element.</summary>
    DstPortStart,
    /// <summary>The <c>dstportend</c> attribute of a rule's protocol element.</summary>
    DstPortEnd,
    /// <summary>The <c>dscp</c> attribute of a rule's protocol element.</summary>
    Dscp,
    /// <summary>The <c>connlimit-above</c> attribute of a rule's protocol element.</summary>
    ConnlimitAbove,
    /// <summary>The <c>state</c> attribute of a rule's protocol element.</summary>
    State,
    /// <summary>The <c>ipset</c> attribute of a rule's protocol element.</summary>
    IpSet,
    /// <summary>The <c>ipsetflags</c> attribute of a rule's protocol element.</summary>
    IpSetFlags,
    /// <summary>The <c>option</c> attribute of a rule's protocol element.</summary>
    TcpOption,
    /// <summary>The <c>flags</c> attribute of a rule's protocol element.</summary>
    TcpFlags,
    /// <summary>ICMP type (icmp, icmpv6) or ICMPv6 type range start (ipv6).</summary>
    Type,
    /// <summary>The <c>typeend</c> attribute of a rule's protocol element.</summary>
    TypeEnd,
    /// <summary>The <c>code</c> attribute of a rule's protocol element.</summary>
    Code,
    /// <summary>The <c>codeend</c> attribute of a rule's protocol element.</summary>
    CodeEnd,
    /// <summary>The <c>comment</c> attribute of a rule's protocol element.</summary>
    Comment,
    /// <summary>
    /// NwFilter's own <c>ndtarget</c> attribute of <c>ipv6</c> and <c>icmpv6</c> (not libvirt's): the target address of a neighbour
    /// solicitation or advertisement (ICMPv6 type 135 or 136).
    /// </summary>
    NdTarget,
    /// <summary>
    /// NwFilter's own <c>ndlladdr</c> attribute of <c>ipv6</c> and <c>icmpv6</c> (not libvirt's): the MAC every link-layer address option
    /// of a router solicitation, neighbour solicitation or advertisement (ICMPv6 type 133, 135, 136) must carry.
    /// </summary>
    NdLinkLayerAddress,
}
