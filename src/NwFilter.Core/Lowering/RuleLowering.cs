using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Schema;
using static NwFilter.Core.Lowering.RuleAttributes;
using static NwFilter.Core.Model.AttributeId;

namespace NwFilter.Core.Lowering;

/// <summary>
/// The one place where libvirt's semantics of a rule instance are decided, for every backend: which chain sides get a
/// copy (direction), which copy is reversed and what that swaps, the three layer-4 copies and their state matches,
/// connlimit, the ICMP-type skip, <c>srcmacaddr</c> only where it can match, the ARP mask reuse, the ICMPv6 defaults,
/// the DSCP quirk, the verdicts, and where the Ethernet sub-chains are created. Pure; the writers of the ebtables/iptables
/// and nftables backends print what it gives (docs/design/nftables.md: lowering).
/// </summary>
/// <remarks>
/// The decisions follow libvirt's ebiptables driver (<c>ebiptablesCreateRuleInstance</c>,
/// <c>ebtablesCreateRuleInstance</c>, <c>iptablesCreateRuleInstance</c>, <c>_iptablesCreateRuleInstance</c>,
/// <c>ebiptablesApplyNewRules</c>). What is only xtables syntax (option names, where the <c>!</c> goes, <c>-m</c>
/// modules, printing <c>/32</c> for a missing ARP mask) stays in the xtables writers.
/// </remarks>
internal static class RuleLowering
{
    /// <summary>Scratch space for one copy's matches (the copy keeps an exact-size array): lowering runs per interface on hot paths.</summary>
    [ThreadStatic]
    private static ImmutableArray<LoweredMatch>.Builder? s_matches;

    private static ImmutableArray<LoweredMatch>.Builder Scratch()
    {
        var builder = s_matches ??= ImmutableArray.CreateBuilder<LoweredMatch>(16);
        builder.Clear();
        return builder;
    }

    /// <summary>The sub-chain name prefixes in libvirt's order (ebiptablesApplyNewRules' protocol table).</summary>
    private static readonly (string Prefix, SubChainProtocol Protocol)[] SubChainPrefixes =
    [
        ("ipv4", SubChainProtocol.Ipv4), ("ipv6", SubChainProtocol.Ipv6), ("arp", SubChainProtocol.Arp), ("rarp", SubChainProtocol.Rarp),
        ("mac", SubChainProtocol.Mac), ("vlan", SubChainProtocol.Vlan), ("stp", SubChainProtocol.Stp),
    ];

    /// <summary>
    /// Lowers a port's instances (in resolution order). Ethernet rules: direction out goes to the from-VM side, in to
    /// the to-VM side, inout to both with the from-VM copy reversed; each sub-chain is created (and jumped to from its
    /// root) just before the first rule whose effective priority reaches the sub-chain's priority, at equal priority
    /// from-VM before to-VM, each by name (libvirt: hash order). Layer-4 rules: their copies, see <see cref="LowerLayer4"/>.
    /// </summary>
    public static LoweredPort Lower(IReadOnlyList<RuleInstance> instances)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var fromChains = new Dictionary<string, int>(StringComparer.Ordinal);
        var toChains = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var instance in instances)
        {
            if (instance.Layer != ProtocolLayer.Ethernet)
            {
                continue;
            }
            if (instance.Rule.Direction is RuleDirection.Out or RuleDirection.InOut)
            {
                fromChains[instance.ChainSuffix] = instance.ChainPriority;
            }
            if (instance.Rule.Direction is RuleDirection.In or RuleDirection.InOut)
            {
                toChains[instance.ChainSuffix] = instance.ChainPriority;
            }
        }
        var subChains = new List<SubChainJump>(fromChains.Count + toChains.Count);
        AddSubChains(subChains, fromChains, LoweredChain.FromVm);
        AddSubChains(subChains, toChains, LoweredChain.ToVm);
        // By priority, at equal priority from-VM before to-VM, then by name: a total order, so an unstable sort is exact.
        subChains.Sort(static (a, b) => a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority)
            : a.Root != b.Root ? a.Root.CompareTo(b.Root)
            : string.CompareOrdinal(a.Suffix, b.Suffix));

        var ethernet = ImmutableArray.CreateBuilder<LoweredStep>(instances.Count * 2 + subChains.Count);
        var layer4 = ImmutableArray.CreateBuilder<LoweredRule>(instances.Count * 3);
        var next = 0;
        for (var i = 0; i < instances.Count; i++)
        {
            var instance = instances[i];
            var origin = new RuleOrigin(i, instance);
            if (instance.Layer != ProtocolLayer.Ethernet)
            {
                LowerLayer4(origin, layer4);
                continue;
            }
            while (next < subChains.Count && subChains[next].Priority <= instance.EffectivePriority)
            {
                ethernet.Add(subChains[next++]);
            }
            LowerEthernet(origin, ethernet);
        }
        while (next < subChains.Count)
        {
            ethernet.Add(subChains[next++]);
        }
        return new LoweredPort(ethernet.ToImmutable(), layer4.ToImmutable(), fromChains.Count > 0, toChains.Count > 0);
    }

    private static void AddSubChains(List<SubChainJump> output, Dictionary<string, int> chains, LoweredChain root)
    {
        foreach (var (suffix, priority) in chains)
        {
            foreach (var (prefix, protocol) in SubChainPrefixes)
            {
                if (suffix.StartsWith(prefix, StringComparison.Ordinal))
                {
                    output.Add(new SubChainJump(root, suffix, priority, protocol));
                    break;
                }
            }
        }
    }

    /// <summary>The copies of an Ethernet-layer rule: out → from-VM, in → to-VM, inout → both, the from-VM copy reversed.</summary>
    internal static void LowerEthernet(RuleOrigin origin, ICollection<LoweredStep> output)
    {
        var direction = origin.Instance.Rule.Direction;
        if (direction is RuleDirection.Out or RuleDirection.InOut)
        {
            output.Add(EthernetCopy(origin, LoweredChain.FromVm, reverse: direction == RuleDirection.InOut));
        }
        if (direction is RuleDirection.In or RuleDirection.InOut)
        {
            output.Add(EthernetCopy(origin, LoweredChain.ToVm, reverse: false));
        }
    }

    /// <summary>ebtables has no REJECT and nft's bridge family none either: reject becomes drop at the Ethernet layer.</summary>
    internal static LoweredVerdict EthernetVerdict(RuleAction action) => action switch
    {
        RuleAction.Accept => LoweredVerdict.Accept,
        RuleAction.Drop or RuleAction.Reject => LoweredVerdict.Drop,
        RuleAction.Return => LoweredVerdict.Return,
        RuleAction.Continue => LoweredVerdict.Continue,
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };

    /// <summary>
    /// One Ethernet-layer copy. A reversed copy swaps each source field with its destination field (MAC, IP, ports,
    /// ARP addresses), keeping the attribute's position in the rule.
    /// </summary>
    internal static LoweredRule EthernetCopy(RuleOrigin origin, LoweredChain chain, bool reverse)
    {
        var rule = origin.Instance.Rule;
        var m = Scratch();
        Icmpv6Span? icmpv6 = null;
        NdpMatch? ndp = null;
        switch (rule.Protocol)
        {
            case ProtocolKind.None:
                break;
            case ProtocolKind.Mac:
                EthHeader(m, rule, reverse);
                Add(m, rule, MatchField.EtherType, ProtocolId);
                break;
            case ProtocolKind.Vlan:
                EthHeader(m, rule, reverse);
                Add(m, rule, MatchField.VlanId, VlanId);
                Add(m, rule, MatchField.VlanEncapsulation, EncapProtocol);
                break;
            case ProtocolKind.Stp:
                if (reverse && Has(rule, SrcMacAddr))
                {
                    // ebtablesCreateRuleInstance refuses this: the reversed copy would test the group address as source.
                    throw new NwFilterException(Diagnostic.Error("StpInOutWithSourceMac",
                        "STP filtering in inout direction with source MAC address set is not supported.", DiagnosticCategory.InvalidData)
                        with { Element = "stp", Attribute = "srcmacaddr" });
                }
                EthHeader(m, rule, reverse);
                Add(m, rule, MatchField.StpType, StpType);
                Add(m, rule, MatchField.StpFlags, StpFlags);
                Add(m, rule, MatchField.StpRootPriority, RootPriority, RootPriorityHi);
                Add(m, rule, MatchField.StpRootAddress, RootAddress, RootAddressMask);
                Add(m, rule, MatchField.StpRootCost, RootCost, RootCostHi);
                Add(m, rule, MatchField.StpSenderPriority, SenderPriority, SenderPriorityHi);
                Add(m, rule, MatchField.StpSenderAddress, SenderAddress, SenderAddressMask);
                Add(m, rule, MatchField.StpPort, Port, PortHi);
                Add(m, rule, MatchField.StpMessageAge, Age, AgeHi);
                Add(m, rule, MatchField.StpMaxAge, MaxAge, MaxAgeHi);
                Add(m, rule, MatchField.StpHelloTime, HelloTime, HelloTimeHi);
                Add(m, rule, MatchField.StpForwardDelay, ForwardDelay, ForwardDelayHi);
                break;
            case ProtocolKind.Arp or ProtocolKind.Rarp:
                EthHeader(m, rule, reverse);
                Add(m, rule, MatchField.ArpHardwareType, HwType);
                Add(m, rule, MatchField.ArpOpcode, Opcode);
                Add(m, rule, MatchField.ArpProtocolType, ProtocolType);
                ArpAddresses(m, rule, reverse);
                if (Get(rule, Gratuitous) is { Number: not 0 } gratuitous)
                {
                    m.Add(new LoweredMatch(MatchField.ArpGratuitous, Gratuitous, gratuitous, null, Negated(rule, Gratuitous)));
                }
                break;
            case ProtocolKind.Ip or ProtocolKind.Ipv6:
                EthHeader(m, rule, reverse);
                Oriented(m, rule, reverse, MatchField.SourceIp, SrcIpAddr, SrcIpMask, MatchField.DestinationIp, DstIpAddr, DstIpMask);
                Add(m, rule, MatchField.IpProtocol, IpProtocol);
                Oriented(m, rule, reverse, MatchField.SourcePort, SrcPortStart, SrcPortEnd, MatchField.DestinationPort, DstPortStart, DstPortEnd);
                if (rule.Protocol == ProtocolKind.Ip)
                {
                    // libvirt's quirk, kept by both backends: the DSCP value is tested unshifted against the whole TOS byte.
                    Add(m, rule, MatchField.TosByte, Dscp);
                }
                else
                {
                    icmpv6 = Icmpv6(rule);
                    if (icmpv6 is not null)
                    {
                        CheckIcmpv6(rule, icmpv6);
                    }
                    ndp = Ndp(rule, icmpv6);
                }
                break;
            default:
                throw new ArgumentException($"{rule.Protocol} is not an Ethernet-layer protocol.", nameof(origin));
        }
        return new LoweredRule(origin, chain, rule.Protocol, reverse, m.ToImmutable(), EthernetVerdict(rule.Action))
        {
            Icmpv6 = icmpv6,
            Ndp = ndp,
            Comment = Get(rule, AttributeId.Comment)?.Text,
        };
    }

    private static void EthHeader(ImmutableArray<LoweredMatch>.Builder m, FilterRule rule, bool reverse) =>
        Oriented(m, rule, reverse, MatchField.SourceMac, SrcMacAddr, SrcMacMask, MatchField.DestinationMac, DstMacAddr, DstMacMask);

    /// <summary>
    /// ARP addresses. The IP mask defaults to 32; once the source IP's mask is seen, a destination IP without its own
    /// mask reuses it (ebtablesCreateRuleInstance's <c>hasMask</c>, only set while printing the source IP).
    /// </summary>
    private static void ArpAddresses(ImmutableArray<LoweredMatch>.Builder m, FilterRule rule, bool reverse)
    {
        TypedValue? mask = null;
        if (Get(rule, ArpSrcIpAddr) is { } srcIp)
        {
            mask = Get(rule, ArpSrcIpMask);
            m.Add(new LoweredMatch(reverse ? MatchField.ArpDestinationIp : MatchField.ArpSourceIp, ArpSrcIpAddr, srcIp, mask, Negated(rule, ArpSrcIpAddr)));
        }
        if (Get(rule, ArpDstIpAddr) is { } dstIp)
        {
            mask = Get(rule, ArpDstIpMask) ?? mask;
            m.Add(new LoweredMatch(reverse ? MatchField.ArpSourceIp : MatchField.ArpDestinationIp, ArpDstIpAddr, dstIp, mask, Negated(rule, ArpDstIpAddr)));
        }
        if (Get(rule, ArpSrcMacAddr) is { } srcMac)
        {
            m.Add(new LoweredMatch(reverse ? MatchField.ArpDestinationMac : MatchField.ArpSourceMac, ArpSrcMacAddr, srcMac, null, Negated(rule, ArpSrcMacAddr)));
        }
        if (Get(rule, ArpDstMacAddr) is { } dstMac)
        {
            m.Add(new LoweredMatch(reverse ? MatchField.ArpSourceMac : MatchField.ArpDestinationMac, ArpDstMacAddr, dstMac, null, Negated(rule, ArpDstMacAddr)));
        }
    }

    /// <summary>
    /// An ICMPv6 type or code is a test of an ICMPv6 header: with another protocol given (<c>protocol='udp' type='1'</c>)
    /// no packet can match (ebtables' ip6 match and nft both refuse the rule), and a type or code range must not end
    /// before it starts.
    /// </summary>
    private static void CheckIcmpv6(FilterRule rule, Icmpv6Span icmp)
    {
        const ulong Icmpv6Protocol = 58;
        if (Get(rule, IpProtocol) is { } protocol && protocol.Number != Icmpv6Protocol)
        {
            throw new NwFilterException(Diagnostic.Error(LoweringCodes.IcmpWithoutIcmpProtocol,
                $"The ipv6 rule tests an ICMPv6 type or code but its protocol is '{protocol.Text}'; give protocol='icmpv6' or leave the protocol out.",
                DiagnosticCategory.InvalidData) with { Element = "ipv6", Attribute = "protocol", Value = protocol.Text });
        }
        if (icmp.TypeLow > icmp.TypeHigh || icmp.CodeLow > icmp.CodeHigh)
        {
            var (attribute, low, high) = icmp.TypeLow > icmp.TypeHigh ? ("typeend", icmp.TypeLow, icmp.TypeHigh) : ("codeend", icmp.CodeLow, icmp.CodeHigh);
            throw new NwFilterException(Diagnostic.Error(LoweringCodes.RangeReversed,
                $"The ipv6 rule's ICMPv6 range {low} to {attribute}='{high}' ends before it starts; no firewall can match it.",
                DiagnosticCategory.InvalidData) with { Element = "ipv6", Attribute = attribute, Value = high.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
    }

    /// <summary>
    /// NwFilter's NDP fields (of <c>ipv6</c>, and of the layer-3 <c>icmpv6</c>): <c>ndtarget</c> needs type 135 or 136,
    /// <c>ndlladdr</c> type 133, 135 or 136, given as one type (no range, no negation), and neither field may be negated:
    /// a negated test of fixed-offset options could not say what a message with other options means.
    /// </summary>
    private static NdpMatch? Ndp(FilterRule rule, Icmpv6Span? icmp)
    {
        TypedValue? target = Get(rule, NdTarget), lladdr = Get(rule, NdLinkLayerAddress);
        if (target is null && lladdr is null)
        {
            return null;
        }
        var attribute = target is not null ? "ndtarget" : "ndlladdr";
        var element = ProtocolSchema.Of(rule.Protocol).ElementName;
        NwFilterException Refuse(string message, string attributeName, string? value) =>
            new(Diagnostic.Error(LoweringCodes.NdFieldWithoutNdType, message, DiagnosticCategory.InvalidData)
                with { Element = element, Attribute = attributeName, Value = value });
        if (Negated(rule, NdTarget) || Negated(rule, NdLinkLayerAddress))
        {
            var negated = Negated(rule, NdTarget) ? "ndtarget" : "ndlladdr";
            throw Refuse($"The {element} rule negates {negated}; NDP fields cannot be negated (write a return rule for the allowed value and a drop after it).",
                negated, (Negated(rule, NdTarget) ? target : lladdr)?.Text);
        }
        if (icmp is null || icmp.Negated || icmp.TypeLow != icmp.TypeHigh)
        {
            throw Refuse($"The {element} rule tests {attribute} but does not give one ICMPv6 type; give type='135' or type='136' (ndlladdr also type='133').",
                attribute, (target ?? lladdr)!.Text);
        }
        var type = icmp.TypeLow;
        if (target is not null && type is not (135 or 136))
        {
            throw Refuse($"The {element} rule tests ndtarget with ICMPv6 type {type}; only neighbour solicitations (135) and advertisements (136) have a target.",
                "ndtarget", target.Text);
        }
        if (lladdr is not null && type is not (133 or 135 or 136))
        {
            throw Refuse($"The {element} rule tests ndlladdr with ICMPv6 type {type}; only router solicitations (133), neighbour solicitations (135) and advertisements (136) are checked.",
                "ndlladdr", lladdr.Text);
        }
        return new NdpMatch((byte)type, target, lladdr);
    }

    /// <summary>The ICMPv6 type/code test: a missing start is 0, a missing end is the start (or 255 when both are missing).</summary>
    private static Icmpv6Span? Icmpv6(FilterRule rule)
    {
        TypedValue? type = Get(rule, AttributeId.Type), typeEnd = Get(rule, TypeEnd), code = Get(rule, Code), codeEnd = Get(rule, CodeEnd);
        if (type is null && typeEnd is null && code is null && codeEnd is null)
        {
            return null;
        }
        static (ulong, ulong) Span(TypedValue? lo, TypedValue? hi)
        {
            var start = lo?.Number ?? 0;
            return (start, hi?.Number ?? (lo is not null ? start : 255));
        }
        var (t0, t1) = Span(type, typeEnd);
        var (c0, c1) = Span(code, codeEnd);
        return new Icmpv6Span(t0, t1, c0, c1, Negated(rule, AttributeId.Type));
    }

    /// <summary>
    /// The copies of a layer-4 rule (iptablesCreateRuleInstance), always in the order FJ (forwarded from the VM), FP
    /// (forwarded to the VM), HJ (from the VM to the host). With <c>statematch</c> and an explicit <c>state</c>: the
    /// rule's states, no direction test, copies by direction (out: FJ, HJ; in: FP; inout: all three). Otherwise all
    /// three copies, the one facing the rule's direction with NEW,ESTABLISHED and the reply copies with ESTABLISHED
    /// (no state for inout or <c>statematch='false'</c>), each with a direction test.
    /// </summary>
    internal static void LowerLayer4(RuleOrigin origin, ICollection<LoweredRule> output)
    {
        var rule = origin.Instance.Rule;
        var directionIn = rule.Direction is RuleDirection.In or RuleDirection.InOut;
        var inout = rule.Direction == RuleDirection.InOut;
        // NwFilter's NDP fields of icmpv6: checked once, whether or not a copy survives; the same test in every copy
        // (it reads the message, which no reversal changes).
        var ndp = rule.Protocol == ProtocolKind.Icmpv6 ? Ndp(rule, Icmpv6(rule)) : null;

        if (rule.StateMatch && Get(rule, State) is { } state)
        {
            var states = StateList(state.Text);
            if (!directionIn || inout)
            {
                AddCopy(output, Layer4Copy(origin, LoweredChain.ForwardFromVm, directionIn, states, false, LoweredVerdict.Return, directionIn || inout), ndp);
            }
            if (directionIn)
            {
                AddCopy(output, Layer4Copy(origin, LoweredChain.ForwardToVm, !directionIn, states, false, LoweredVerdict.Accept, !directionIn || inout), ndp);
            }
            if (!directionIn || inout)
            {
                AddCopy(output, Layer4Copy(origin, LoweredChain.HostFromVm, directionIn, states, false, LoweredVerdict.Return, directionIn), ndp);
            }
            return;
        }

        var needState = !inout && rule.StateMatch;
        AddCopy(output, Layer4Copy(origin, LoweredChain.ForwardFromVm, directionIn, Reply(needState, directionIn), true, LoweredVerdict.Return, directionIn || inout), ndp);
        AddCopy(output, Layer4Copy(origin, LoweredChain.ForwardToVm, !directionIn, Reply(needState, !directionIn), true, LoweredVerdict.Accept, !directionIn || inout), ndp);
        AddCopy(output, Layer4Copy(origin, LoweredChain.HostFromVm, directionIn, Reply(needState, directionIn), true, LoweredVerdict.Return, directionIn), ndp);
    }

    /// <summary>The implicit states of a copy: NEW,ESTABLISHED facing the rule's direction, ESTABLISHED for the reply.</summary>
    private static string? Reply(bool needState, bool reversed) => needState ? (reversed ? "ESTABLISHED" : "NEW,ESTABLISHED") : null;

    private static void AddCopy(ICollection<LoweredRule> output, LoweredRule? copy, NdpMatch? ndp)
    {
        if (copy is not null)
        {
            output.Add(ndp is null ? copy : copy with { Ndp = ndp });
        }
    }

    /// <summary>
    /// One layer-4 copy, or null when libvirt drops it. <paramref name="reverse"/> swaps source and destination;
    /// <paramref name="defaultPath"/> marks the implicit-state path (its state is dropped for non-accept rules, and it
    /// tests the direction); <paramref name="maySkipIcmp"/> drops the copy when the rule has an ICMP type;
    /// <paramref name="acceptVerdict"/> is what an accept is in this chain (RETURN in FJ and HJ, so the packet still
    /// meets FP; ACCEPT in FP).
    /// </summary>
    private static LoweredRule? Layer4Copy(RuleOrigin origin, LoweredChain chain, bool reverse, string? states, bool defaultPath,
        LoweredVerdict acceptVerdict, bool maySkipIcmp)
    {
        var rule = origin.Instance.Rule;
        var m = Scratch();
        bool skipState = false, hasIcmpType = false, srcMacSkipped = false;

        // srcmacaddr only matches in non-reversed copies (a reversed one cannot test the VM's MAC as destination).
        if (Get(rule, SrcMacAddr) is { } mac)
        {
            if (reverse)
            {
                srcMacSkipped = true;
            }
            else
            {
                m.Add(new LoweredMatch(MatchField.SourceMac, SrcMacAddr, mac, null, Negated(rule, SrcMacAddr)));
            }
        }
        IpOrRange(m, rule, reverse ? MatchField.DestinationIp : MatchField.SourceIp, reverse ? MatchField.DestinationIpRange : MatchField.SourceIpRange,
            SrcIpAddr, SrcIpMask, SrcIpFrom, SrcIpTo);
        IpOrRange(m, rule, reverse ? MatchField.SourceIp : MatchField.DestinationIp, reverse ? MatchField.SourceIpRange : MatchField.DestinationIpRange,
            DstIpAddr, DstIpMask, DstIpFrom, DstIpTo);
        Add(m, rule, MatchField.Dscp, Dscp);
        if (Has(rule, ConnlimitAbove))
        {
            // connlimit counts the VM's own connections: the reversed copy is dropped, the other loses its state match.
            if (reverse)
            {
                return null;
            }
            skipState = true;
        }

        switch (rule.Protocol)
        {
            case ProtocolKind.Tcp or ProtocolKind.TcpIpv6:
                Add(m, rule, MatchField.TcpFlags, TcpFlags);
                Oriented(m, rule, reverse, MatchField.SourcePort, SrcPortStart, SrcPortEnd, MatchField.DestinationPort, DstPortStart, DstPortEnd);
                Add(m, rule, MatchField.TcpOption, TcpOption);
                break;
            case ProtocolKind.Udp or ProtocolKind.UdpIpv6 or ProtocolKind.Sctp or ProtocolKind.SctpIpv6:
                Oriented(m, rule, reverse, MatchField.SourcePort, SrcPortStart, SrcPortEnd, MatchField.DestinationPort, DstPortStart, DstPortEnd);
                break;
            case ProtocolKind.Icmp or ProtocolKind.Icmpv6:
                if (Get(rule, AttributeId.Type) is { } type)
                {
                    hasIcmpType = true;
                    if (maySkipIcmp)
                    {
                        return null;
                    }
                    m.Add(new LoweredMatch(MatchField.IcmpType, AttributeId.Type, type, Get(rule, Code), Negated(rule, AttributeId.Type)));
                }
                break;
        }

        // A copy whose only match was the skipped srcmacaddr would match everything: libvirt drops it.
        if (srcMacSkipped && m.Count == 0)
        {
            return null;
        }

        LoweredVerdict verdict;
        if (rule.Action == RuleAction.Accept)
        {
            verdict = acceptVerdict;
        }
        else
        {
            verdict = rule.Action switch
            {
                RuleAction.Drop => LoweredVerdict.Drop,
                RuleAction.Reject => LoweredVerdict.Reject,
                RuleAction.Return => LoweredVerdict.Return,
                RuleAction.Continue => LoweredVerdict.Continue,
                _ => throw new ArgumentOutOfRangeException(nameof(origin)),
            };
            skipState |= defaultPath;
        }

        ConnectionStateMatch? state = null;
        if (states is not null && !skipState)
        {
            var direction = defaultPath && !hasIcmpType && rule.Direction != RuleDirection.InOut
                ? (reverse ? ConnectionDirection.Reply : ConnectionDirection.Original)
                : ConnectionDirection.Any;
            state = new ConnectionStateMatch(states, direction);
        }
        var ipset = Get(rule, IpSet) is { } set
            ? new IpSetMatch(set.Text, Get(rule, AttributeId.IpSetFlags) is { } flags ? RuleAttributes.IpSetFlags(flags.Text, reverse) : null)
            : null;
        var connlimit = Get(rule, ConnlimitAbove) is { } above ? new ConnlimitMatch(above, Negated(rule, ConnlimitAbove)) : null;

        return new LoweredRule(origin, chain, rule.Protocol, reverse, m.ToImmutable(), verdict)
        {
            State = state,
            IpSet = ipset,
            Connlimit = connlimit,
            Comment = Get(rule, AttributeId.Comment)?.Text,
        };
    }

    /// <summary>An address with its prefix, or else an address range (a rule has one or the other).</summary>
    private static void IpOrRange(ImmutableArray<LoweredMatch>.Builder m, FilterRule rule, MatchField field, MatchField rangeField,
        AttributeId address, AttributeId mask, AttributeId from, AttributeId to)
    {
        if (Get(rule, address) is { } value)
        {
            m.Add(new LoweredMatch(field, address, value, Get(rule, mask), Negated(rule, address)));
        }
        else if (Get(rule, from) is { } start)
        {
            var end = Get(rule, to);
            if (end is not null)
            {
                CheckRange(rule, from, start, to, end);
            }
            m.Add(new LoweredMatch(rangeField, from, start, end, Negated(rule, from)));
        }
    }

    /// <summary>A source attribute then its destination attribute, each tested on the swapped field when reversed.</summary>
    private static void Oriented(ImmutableArray<LoweredMatch>.Builder m, FilterRule rule, bool reverse,
        MatchField source, AttributeId sourceValue, AttributeId sourceExtra, MatchField destination, AttributeId destinationValue, AttributeId destinationExtra)
    {
        Add(m, rule, reverse ? destination : source, sourceValue, sourceExtra);
        Add(m, rule, reverse ? source : destination, destinationValue, destinationExtra);
    }

    /// <summary>The attribute as a match when present; the extra (mask, range end) only counts when the value is given.</summary>
    private static void Add(ImmutableArray<LoweredMatch>.Builder m, FilterRule rule, MatchField field, AttributeId value, AttributeId? extra = null)
    {
        if (Get(rule, value) is { } literal)
        {
            var second = extra is { } e ? Get(rule, e) : null;
            if (IsRange(field) && second is not null)
            {
                CheckRange(rule, value, literal, extra!.Value, second);
            }
            m.Add(new LoweredMatch(field, value, literal, second, Negated(rule, value)));
        }
    }

    /// <summary>The fields whose second value is the end of a range (not a mask, prefix or MAC mask).</summary>
    private static bool IsRange(MatchField field) => field is MatchField.SourcePort or MatchField.DestinationPort
        or MatchField.SourceIpRange or MatchField.DestinationIpRange
        or MatchField.StpRootPriority or MatchField.StpRootCost or MatchField.StpSenderPriority or MatchField.StpPort
        or MatchField.StpMessageAge or MatchField.StpMaxAge or MatchField.StpHelloTime or MatchField.StpForwardDelay;

    /// <summary>
    /// A range must not end before it starts: no backend can match one (ebtables and iptables refuse it when the rule is
    /// added, nft refuses the whole transaction), so it is refused here, once for both, before any firewall sees it.
    /// </summary>
    private static void CheckRange(FilterRule rule, AttributeId startAttribute, TypedValue start, AttributeId endAttribute, TypedValue end)
    {
        var reversed = start.Address is { } a && end.Address is { } b
            ? a.AddressFamily == b.AddressFamily && Compare(a.GetAddressBytes(), b.GetAddressBytes()) > 0
            : start.Address is null && end.Address is null && start.Number > end.Number;
        if (!reversed)
        {
            return;
        }
        var schema = ProtocolSchema.Of(rule.Protocol);
        string startName = schema.Find(startAttribute)?.Name ?? startAttribute.ToString(), endName = schema.Find(endAttribute)?.Name ?? endAttribute.ToString();
        throw new NwFilterException(Diagnostic.Error(LoweringCodes.RangeReversed,
            $"The {schema.ElementName} rule's range {startName}='{start.Text}' to {endName}='{end.Text}' ends before it starts; no firewall can match it.",
            DiagnosticCategory.InvalidData) with { Element = schema.ElementName, Attribute = endName, Value = end.Text });

        static int Compare(byte[] x, byte[] y)
        {
            for (var i = 0; i < x.Length; i++)
            {
                if (x[i] != y[i])
                {
                    return x[i].CompareTo(y[i]);
                }
            }
            return 0;
        }
    }
}
