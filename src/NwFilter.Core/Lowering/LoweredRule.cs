using System.Collections.Immutable;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Lowering;

/// <summary>
/// Where a lowered rule (and every kernel rule a backend prints from it) came from: the rule instance and its place in
/// the port's instance list. The ordinal is unique within one port's compile; the rest is libvirt's identity of a rule
/// instance (filter, chain, rule priority, variable combination).
/// </summary>
/// <param name="Ordinal">The instance's index in the list the port was compiled from (resolution order, 0-based).</param>
/// <param name="Instance">The rule instance.</param>
public sealed record RuleOrigin(int Ordinal, RuleInstance Instance)
{
    /// <summary>The instance's index in the list the port was compiled from (resolution order, 0-based).</summary>
    public int Ordinal { get; internal init; } = Ordinal;
    /// <summary>The rule instance.</summary>
    public RuleInstance Instance { get; internal init; } = Instance;

    /// <summary>The filter the rule instance came from.</summary>
    public string FilterName => Instance.FilterName;
    /// <summary>The chain the rule instance is in (<c>root</c>, <c>ipv4</c>, <c>mac</c>, ...).</summary>
    public string ChainSuffix => Instance.ChainSuffix;
    /// <summary>The rule's priority within its chain.</summary>
    public int RulePriority => Instance.RulePriority;

    /// <summary>Which combination of the rule's variables the instance is (0-based).</summary>
    public int Combination => Instance.Combination;

    /// <inheritdoc/>
    public override string ToString() => $"#{Ordinal} {Instance}";
}

/// <summary>
/// The chain side a lowered rule belongs to, named by what it sees, not by a backend's chain names: the Ethernet
/// chains (ebtables' J/P chains, nft's bridge I/O chains) and the three layer-4 copies (iptables' FJ/FP/HJ, nft's
/// inet FI/FO/HI).
/// </summary>
internal enum LoweredChain
{
    /// <summary>Frames the VM sends (ebtables <c>libvirt-J-IF</c>, nft bridge <c>I</c>).</summary>
    FromVm,
    /// <summary>Frames sent to the VM (ebtables <c>libvirt-P-IF</c>, nft bridge <c>O</c>).</summary>
    ToVm,
    /// <summary>Packets from the VM forwarded by the host (iptables <c>FJ-IF</c>, nft inet <c>FI</c>).</summary>
    ForwardFromVm,
    /// <summary>Packets forwarded to the VM (iptables <c>FP-IF</c>, nft inet <c>FO</c>).</summary>
    ForwardToVm,
    /// <summary>Packets from the VM to the host itself (iptables <c>HJ-IF</c>, nft inet <c>HI</c>).</summary>
    HostFromVm,
}

/// <summary>A lowered rule's verdict, after libvirt's choices (an accept is RETURN in FJ/HJ, reject is DROP at the bridge).</summary>
internal enum LoweredVerdict
{
    Accept,
    Drop,
    Reject,
    Return,
    Continue,
}

/// <summary>
/// The packet field a match tests, already oriented: <see cref="SourceMac"/> is the packet's source MAC, whichever
/// attribute (<c>srcmacaddr</c>, or <c>dstmacaddr</c> in a reversed copy) it came from.
/// </summary>
internal enum MatchField
{
    /// <summary>Value: a MAC; Extra: its mask (MAC form) or null.</summary>
    SourceMac,
    /// <summary>Value: a MAC; Extra: its mask (MAC form) or null.</summary>
    DestinationMac,
    /// <summary>The Ethernet type (<c>protocolid</c>).</summary>
    EtherType,
    VlanId,
    /// <summary>The VLAN's encapsulated type (<c>encap-protocol</c>).</summary>
    VlanEncapsulation,
    /// <summary>Value: an address; Extra: its prefix length or null (full length).</summary>
    SourceIp,
    /// <summary>Value: an address; Extra: its prefix length or null (full length).</summary>
    DestinationIp,
    /// <summary>Value: the first address; Extra: the last or null (one address).</summary>
    SourceIpRange,
    /// <summary>Value: the first address; Extra: the last or null (one address).</summary>
    DestinationIpRange,
    IpProtocol,
    /// <summary>Value: the first port; Extra: the last or null (one port).</summary>
    SourcePort,
    /// <summary>Value: the first port; Extra: the last or null (one port).</summary>
    DestinationPort,
    /// <summary>
    /// The whole IPv4 TOS byte compared with the unshifted <c>dscp</c> value: libvirt's quirk for the Ethernet-layer
    /// <c>ip</c> protocol (ebtablesCreateRuleInstance writes <c>--ip-tos</c> with the DSCP value).
    /// </summary>
    TosByte,
    /// <summary>The DSCP bits of the IP header (layer-4 rules).</summary>
    Dscp,
    /// <summary>Value: the canonical <c>MASK/FLAGS</c> text.</summary>
    TcpFlags,
    TcpOption,
    /// <summary>Value: the ICMP type; Extra: the code or null. The negation covers type and code together.</summary>
    IcmpType,
    ArpHardwareType,
    ArpOpcode,
    ArpProtocolType,
    /// <summary>Value: the sender IP; Extra: the effective prefix length or null (32).</summary>
    ArpSourceIp,
    /// <summary>Value: the target IP; Extra: the effective prefix length or null (32).</summary>
    ArpDestinationIp,
    ArpSourceMac,
    ArpDestinationMac,
    /// <summary>A gratuitous ARP (sender IP equals target IP).</summary>
    ArpGratuitous,
    StpType,
    StpFlags,
    /// <summary>STP ranges: Value the low end, Extra the high end or null.</summary>
    StpRootPriority,
    /// <summary>STP addresses: Value a MAC, Extra its mask or null.</summary>
    StpRootAddress,
    StpRootCost,
    StpSenderPriority,
    StpSenderAddress,
    StpPort,
    StpMessageAge,
    StpMaxAge,
    StpHelloTime,
    StpForwardDelay,
}

/// <summary>One match of a lowered rule: the oriented field, its value (and mask, prefix, range end or code), negation.</summary>
/// <param name="Field">The packet field tested.</param>
/// <param name="Attribute">The attribute it came from (for diagnostics).</param>
/// <param name="Value">The value.</param>
/// <param name="Extra">The field's second value (see <see cref="MatchField"/>), or null.</param>
/// <param name="Negated">True for <c>!</c>: the packet must not match.</param>
internal sealed record LoweredMatch(MatchField Field, AttributeId Attribute, TypedValue Value, TypedValue? Extra, bool Negated)
{
    public MatchField Field { get; internal init; } = Field;
    public AttributeId Attribute { get; internal init; } = Attribute;
    public TypedValue Value { get; internal init; } = Value;
    public TypedValue? Extra { get; internal init; } = Extra;
    public bool Negated { get; internal init; } = Negated;
}

/// <summary>
/// NwFilter's NDP field test (<c>ndtarget</c>, <c>ndlladdr</c>) of an <c>ipv6</c> rule or a layer-3 <c>icmpv6</c> rule
/// whose ICMPv6 type is pinned to one NDP message. The options are read at fixed offsets, without extension headers: a message matches
/// <see cref="LinkLayerAddress"/> when it carries no option, or exactly one 8-byte option that is either not this
/// message's link-layer address option or carries that MAC. A message with more than one option never matches it.
/// </summary>
/// <param name="MessageType">133 (router solicitation), 135 (neighbour solicitation) or 136 (neighbour advertisement).</param>
/// <param name="Target">The target address (135, 136), or null.</param>
/// <param name="LinkLayerAddress">The MAC of the source (133, 135) or target (136) link-layer address option, or null.</param>
internal sealed record NdpMatch(byte MessageType, TypedValue? Target, TypedValue? LinkLayerAddress)
{
    public byte MessageType { get; internal init; } = MessageType;
    public TypedValue? Target { get; internal init; } = Target;
    public TypedValue? LinkLayerAddress { get; internal init; } = LinkLayerAddress;

    /// <summary>Bytes from the start of the ICMPv6 header to the first option.</summary>
    public int OptionsOffset => MessageType == 133 ? 8 : 24;

    /// <summary>The option type of this message's link-layer address: 1 (source) for 133 and 135, 2 (target) for 136.</summary>
    public byte LinkLayerOptionType => MessageType == 136 ? (byte)2 : (byte)1;
}

/// <summary>An ICMPv6 type and code test of an Ethernet-layer <c>ipv6</c> rule, with libvirt's defaults already applied.</summary>
/// <param name="TypeLow">First type (0 when not given).</param>
/// <param name="TypeHigh">Last type (the first, or 255 when neither is given).</param>
/// <param name="CodeLow">First code.</param>
/// <param name="CodeHigh">Last code.</param>
/// <param name="Negated">True when the pair must not match (the negation covers type and code together).</param>
internal sealed record Icmpv6Span(ulong TypeLow, ulong TypeHigh, ulong CodeLow, ulong CodeHigh, bool Negated)
{
    public ulong TypeLow { get; internal init; } = TypeLow;
    public ulong TypeHigh { get; internal init; } = TypeHigh;
    public ulong CodeLow { get; internal init; } = CodeLow;
    public ulong CodeHigh { get; internal init; } = CodeHigh;
    public bool Negated { get; internal init; } = Negated;
}

/// <summary>Which way a connection-tracking match looks (libvirt's <c>--ctdir</c>).</summary>
internal enum ConnectionDirection
{
    /// <summary>No direction test.</summary>
    Any,
    Original,
    Reply,
}

/// <summary>A connection-state match: the states in libvirt's order (<c>NEW,ESTABLISHED,RELATED,INVALID</c>) and the direction.</summary>
internal sealed record ConnectionStateMatch(string States, ConnectionDirection Direction)
{
    public string States { get; internal init; } = States;
    public ConnectionDirection Direction { get; internal init; } = Direction;
}

/// <summary>An ipset match; <see cref="Flags"/> already oriented (src and dst swapped in a reversed copy), null when the rule gave none.</summary>
internal sealed record IpSetMatch(string Name, string? Flags)
{
    public string Name { get; internal init; } = Name;
    public string? Flags { get; internal init; } = Flags;
}

/// <summary>A connection-count limit (<c>connlimit-above</c>): more than <see cref="Above"/> connections (fewer or equal when negated).</summary>
internal sealed record ConnlimitMatch(TypedValue Above, bool Negated)
{
    public TypedValue Above { get; internal init; } = Above;
    public bool Negated { get; internal init; } = Negated;
}

/// <summary>One step of a port's Ethernet-layer sequence: a lowered rule or the creation of a sub-chain.</summary>
internal abstract record LoweredStep;

/// <summary>
/// One kernel-rule-to-be of a port, every libvirt decision already taken: which chain side it goes to, which packets it
/// matches with addresses, ports and states oriented for that side, the negations, the verdict, and where it came from.
/// The backends' writers print it and decide nothing of libvirt's semantics (docs/design/nftables.md: lowering).
/// </summary>
/// <param name="Origin">The rule instance it came from.</param>
/// <param name="Chain">The chain side.</param>
/// <param name="Protocol">The protocol (the writers print its header: <c>-p ipv4</c>, <c>ether type ip</c>, ...).</param>
/// <param name="Reversed">True for a copy with source and destination swapped (information: the matches already are).</param>
/// <param name="Matches">The matches, in libvirt's order.</param>
/// <param name="Verdict">The verdict.</param>
internal sealed record LoweredRule(RuleOrigin Origin, LoweredChain Chain, ProtocolKind Protocol, bool Reversed,
    ImmutableArray<LoweredMatch> Matches, LoweredVerdict Verdict) : LoweredStep
{
    public RuleOrigin Origin { get; internal init; } = Origin;
    public LoweredChain Chain { get; internal init; } = Chain;
    public ProtocolKind Protocol { get; internal init; } = Protocol;
    public bool Reversed { get; internal init; } = Reversed;
    public ImmutableArray<LoweredMatch> Matches { get; internal init; } = Matches;
    public LoweredVerdict Verdict { get; internal init; } = Verdict;

    /// <summary>The ICMPv6 type/code test of an Ethernet-layer <c>ipv6</c> rule, printed after the other matches.</summary>
    public Icmpv6Span? Icmpv6 { get; internal init; }

    /// <summary>The NDP target / link-layer address option test (NwFilter's own) of an <c>ipv6</c> rule or a layer-3 <c>icmpv6</c> copy, or null.</summary>
    public NdpMatch? Ndp { get; internal init; }

    /// <summary>The connection-state match (layer 4), or null.</summary>
    public ConnectionStateMatch? State { get; internal init; }

    /// <summary>The ipset match (layer 4), or null.</summary>
    public IpSetMatch? IpSet { get; internal init; }

    /// <summary>The connection limit (layer 4, only in the copy that sees the VM's own connections), or null.</summary>
    public ConnlimitMatch? Connlimit { get; internal init; }

    /// <summary>The rule's comment, or null (ebtables cannot print it; iptables and nft do).</summary>
    public string? Comment { get; internal init; }

    /// <summary>The filter chain (<c>root</c>, <c>arp</c>, ...): an Ethernet rule goes to that sub-chain of its side.</summary>
    public string ChainSuffix => Origin.ChainSuffix;

    public ProtocolLayer Layer => ProtocolSchema.Of(Protocol).Layer;

    /// <summary>The first match of <paramref name="field"/>, or null.</summary>
    public LoweredMatch? Find(MatchField field)
    {
        foreach (var match in Matches)
        {
            if (match.Field == field)
            {
                return match;
            }
        }
        return null;
    }
}

/// <summary>The protocol a sub-chain is recognised by (its name's prefix), which decides the match of the jump into it.</summary>
internal enum SubChainProtocol
{
    Ipv4,
    Ipv6,
    Arp,
    Rarp,
    Mac,
    Vlan,
    Stp,
}

/// <summary>Create the sub-chain <paramref name="Suffix"/> of side <paramref name="Root"/> and jump to it from its root chain.</summary>
internal sealed record SubChainJump(LoweredChain Root, string Suffix, int Priority, SubChainProtocol Protocol) : LoweredStep
{
    public LoweredChain Root { get; internal init; } = Root;
    public string Suffix { get; internal init; } = Suffix;
    public int Priority { get; internal init; } = Priority;
    public SubChainProtocol Protocol { get; internal init; } = Protocol;
}

/// <summary>
/// A port's rule instances lowered: the Ethernet sequence (rules and sub-chain creations interleaved as libvirt does)
/// and the layer-4 rules, each in order.
/// </summary>
/// <param name="Ethernet">Ethernet-layer rules and sub-chain jumps, in libvirt's order.</param>
/// <param name="Layer4">Layer-4 rule copies (IPv4 and IPv6), in instance order, each instance's copies FJ, FP, HJ.</param>
/// <param name="HasFromVm">True when some Ethernet rule goes to the from-VM side (its root chain exists).</param>
/// <param name="HasToVm">True when some Ethernet rule goes to the to-VM side.</param>
internal sealed record LoweredPort(ImmutableArray<LoweredStep> Ethernet, ImmutableArray<LoweredRule> Layer4, bool HasFromVm, bool HasToVm)
{
    public ImmutableArray<LoweredStep> Ethernet { get; internal init; } = Ethernet;
    public ImmutableArray<LoweredRule> Layer4 { get; internal init; } = Layer4;
    public bool HasFromVm { get; internal init; } = HasFromVm;
    public bool HasToVm { get; internal init; } = HasToVm;

    /// <summary>Every lowered rule, Ethernet first.</summary>
    public IEnumerable<LoweredRule> Rules => Ethernet.OfType<LoweredRule>().Concat(Layer4);
}
