using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Schema;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Trace;

/// <summary>
/// Evaluates a port's resolved rules for one packet in-process, as the kernel would with either backend: the lowered
/// rules (<see cref="RuleLowering"/>, where libvirt's semantics are decided once for both backends), their chains and
/// order, sub-chain jumps by protocol, the layer-4 copies with their connection-state matches, verdicts with return and
/// continue. Pure: no kernel, no process.
/// </summary>
/// <remarks>
/// The path of a packet, in kernel order. From the VM: the bridge chain I (ebtables libvirt-I-IF: prerouting) and its
/// sub-chains; then, for IP with layer-4 rules, FI (iptables FJ-IF: forward) or, addressed to the host, HI (HJ-IF:
/// input). To the VM: FO (FP-IF: forward) for IP unless the host itself sent it, then the bridge chain O (libvirt-O-IF: postrouting). A chain that
/// ends, or a return from a root chain, lets the packet on (libvirt's and our base chains accept); a sub-chain that
/// ends returns to its root (nft's jump, ebtables' RETURN policy). Accept ends the hook's evaluation, drop and reject
/// end the packet. Not simulated, and said in the step's reason when a rule depends on it: ipset membership and TCP
/// options (taken as not matching), the connection count of connlimit (taken as 0), VLAN and STP contents (frames of
/// those kinds cannot be described).
/// </remarks>
public static class PacketTracer
{
    /// <summary>Traces <paramref name="packet"/> through the rules of a resolved filter tree.</summary>
    /// <exception cref="ArgumentException">The resolution waits for IP learning.</exception>
    public static TraceResult Trace(Resolution.Resolution resolution, TracePacket packet, string? portDevice = null, int packetNumber = 1)
    {
        ArgumentNullException.ThrowIfNull(resolution);
        if (resolution.Status != ResolutionStatus.Resolved)
        {
            throw new ArgumentException("The resolution waits for IP learning; there are no rules to trace yet.", nameof(resolution));
        }
        return Trace(RuleLowering.Lower(resolution.Instances), packet, portDevice, packetNumber);
    }

    /// <summary>Traces <paramref name="packet"/> through a port's rule instances (in resolution order).</summary>
    public static TraceResult Trace(IReadOnlyList<RuleInstance> instances, TracePacket packet, string? portDevice = null, int packetNumber = 1) =>
        Trace(RuleLowering.Lower(instances), packet, portDevice, packetNumber);

    internal static TraceResult Trace(LoweredPort port, TracePacket packet, string? portDevice, int packetNumber)
    {
        ArgumentNullException.ThrowIfNull(port);
        ArgumentNullException.ThrowIfNull(packet);
        var run = new Run(packet, portDevice, packetNumber);
        var outbound = packet.Direction == TraceDirection.Out;
        var layer4Chain = outbound ? (packet.ToHost ? LoweredChain.HostFromVm : LoweredChain.ForwardFromVm) : LoweredChain.ForwardToVm;
        var hasLayer4 = packet.IsIp && port.Layer4.Length > 0 && !(packet.FromHost && !outbound);

        // Both hooks always run unless one drops: an accept ends only its own hook (ebtables' ACCEPT in nat PREROUTING
        // still lets iptables FORWARD see the packet; nft's bridge and inet tables are separate hooks). When both let
        // the packet pass, the layer-4 chain's rule is named: it is the more specific one.
        (Func<Outcome> Run, bool Layer4)[] hooks = outbound
            ? [(() => Ethernet(run, port, LoweredChain.FromVm), false), (() => hasLayer4 ? Layer4(run, port, layer4Chain) : default, true)]
            : [(() => hasLayer4 ? Layer4(run, port, layer4Chain) : default, true), (() => Ethernet(run, port, LoweredChain.ToVm), false)];
        var outcome = default(Outcome);
        var fromLayer4 = false;
        foreach (var (hook, layer4) in hooks)
        {
            var result = hook();
            var final = result.Final is TraceVerdict.Drop or TraceVerdict.Reject;
            if (result.By is not null && (final || outcome.By is null || !fromLayer4))
            {
                outcome = result;
                fromLayer4 = layer4;
            }
            if (final)
            {
                break;
            }
        }

        var decision = outcome.Final ?? TraceVerdict.Accept;
        var by = outcome.By;
        var reason = outcome.Final is not null
            ? $"{outcome.Final} by {by!.Origin.FilterName} priority {by.Origin.RulePriority} in {ChainName(by)}"
            : by is not null ? outcome.Reason : "No rule decided; the port's chains end and let the packet pass.";
        run.Add(new TraceStep
        {
            Kind = TraceStepKind.Decision,
            Chain = by is null ? "" : ChainName(by),
            Verdict = decision,
            Filter = by?.Origin.FilterName,
            Priority = by?.Origin.RulePriority,
            Direction = by?.Origin.Instance.Rule.Direction,
            Action = by?.Origin.Instance.Rule.Action,
            Rule = by is null ? null : RuleXml(by),
            Reason = reason,
        });
        return new TraceResult(run.Steps.ToImmutable());
    }

    /// <summary>A hook's result: a final verdict (Accept, Drop, Reject) or none, and the rule that decided or last returned.</summary>
    private readonly record struct Outcome(TraceVerdict? Final, LoweredRule? By, string Reason);

    private sealed class Run(TracePacket packet, string? portDevice, int packetNumber)
    {
        public TracePacket Packet { get; } = packet;
        public ImmutableArray<TraceStep>.Builder Steps { get; } = ImmutableArray.CreateBuilder<TraceStep>();

        public void Add(TraceStep step) => Steps.Add(step with
        {
            Step = Steps.Count + 1,
            Packet = packetNumber,
            PortDevice = portDevice,
            PacketDirection = Packet.Direction,
            Subject = Packet,
        });
    }

    private static Outcome Ethernet(Run run, LoweredPort port, LoweredChain side)
    {
        var root = new List<LoweredStep>();
        var subChains = new Dictionary<string, List<LoweredRule>>(StringComparer.Ordinal);
        foreach (var step in port.Ethernet)
        {
            switch (step)
            {
                case SubChainJump jump when jump.Root == side:
                    root.Add(jump);
                    subChains.TryAdd(jump.Suffix, []);
                    break;
                case LoweredRule rule when rule.Chain == side:
                    if (rule.ChainSuffix == FilterDefinition.RootChain)
                    {
                        root.Add(rule);
                    }
                    else
                    {
                        if (!subChains.TryGetValue(rule.ChainSuffix, out var list))
                        {
                            subChains[rule.ChainSuffix] = list = [];
                        }
                        list.Add(rule);
                    }
                    break;
            }
        }
        var rootName = side == LoweredChain.FromVm ? "I" : "O";
        LoweredRule? lastReturn = null;
        foreach (var step in root)
        {
            if (step is SubChainJump jump)
            {
                if (!JumpMatches(jump.Protocol, run.Packet))
                {
                    continue;
                }
                var subName = rootName + "-" + jump.Suffix;
                run.Add(new TraceStep
                {
                    Kind = TraceStepKind.Jump,
                    Chain = rootName,
                    Priority = jump.Priority,
                    Reason = $"The packet's protocol enters sub-chain {subName}.",
                });
                var result = Chain(run, subChains[jump.Suffix]);
                if (result.Final is not null)
                {
                    return result;
                }
                lastReturn = result.By ?? lastReturn;
                continue;
            }
            var rule = (LoweredRule)step;
            var outcome = Consider(run, rule);
            if (outcome is { } o)
            {
                if (o.Final is not null)
                {
                    return o;
                }
                if (o.By is not null)
                {
                    // A return from the root chain ends it: the packet goes on.
                    return new Outcome(null, rule, $"Returned from {rootName} by {rule.Origin.FilterName} priority {rule.Origin.RulePriority}; the packet passes the bridge.");
                }
            }
        }
        return new Outcome(null, lastReturn, lastReturn is null ? "" : $"The bridge chains end; the packet passes ({lastReturn.Origin.FilterName} priority {lastReturn.Origin.RulePriority} returned last).");
    }

    /// <summary>Runs the rules of one chain: a final verdict, a return (By set), or the end (nothing).</summary>
    private static Outcome Chain(Run run, IReadOnlyList<LoweredRule> rules)
    {
        foreach (var rule in rules)
        {
            if (Consider(run, rule) is { } o)
            {
                return o;
            }
        }
        return new Outcome(null, null, "");
    }

    /// <summary>Records one rule; null when the packet goes on to the next rule (no match, or continue).</summary>
    private static Outcome? Consider(Run run, LoweredRule rule)
    {
        var mismatch = Mismatch(rule, run.Packet);
        var verdict = mismatch is null ? Verdict(rule.Verdict) : (TraceVerdict?)null;
        var instance = rule.Origin.Instance;
        run.Add(new TraceStep
        {
            Kind = TraceStepKind.Rule,
            Chain = ChainName(rule),
            Verdict = verdict,
            Filter = instance.FilterName,
            Priority = instance.RulePriority,
            Direction = instance.Rule.Direction,
            Action = instance.Rule.Action,
            Rule = RuleXml(rule),
            Reason = mismatch ?? Meaning(rule),
        });
        return verdict switch
        {
            null or TraceVerdict.Continue => null,
            TraceVerdict.Return => new Outcome(null, rule, ""),
            _ => new Outcome(verdict, rule, ""),
        };
    }

    private static Outcome Layer4(Run run, LoweredPort port, LoweredChain chain)
    {
        foreach (var rule in port.Layer4)
        {
            if (rule.Chain != chain)
            {
                continue;
            }
            if (Consider(run, rule) is { } o)
            {
                return o.Final is not null ? o
                    : new Outcome(null, rule, $"Returned from {ChainName(rule)} by {rule.Origin.FilterName} priority {rule.Origin.RulePriority}: the packet passes.");
            }
        }
        return default;
    }

    private static string Meaning(LoweredRule rule) => rule.Verdict switch
    {
        LoweredVerdict.Accept => "Matched: accepted.",
        LoweredVerdict.Drop => rule.Origin.Instance.Rule.Action == RuleAction.Reject && rule.Layer == ProtocolLayer.Ethernet
            ? "Matched: dropped (a reject is a drop at the bridge)." : "Matched: dropped.",
        LoweredVerdict.Reject => "Matched: rejected.",
        LoweredVerdict.Return => rule.Origin.Instance.Rule.Action == RuleAction.Accept
            ? "Matched: accepted in this chain (a return, so the packet still meets the other port's chains)." : "Matched: back to the calling chain.",
        LoweredVerdict.Continue => "Matched: no verdict, the next rule is consulted.",
        _ => "",
    };

    private static TraceVerdict Verdict(LoweredVerdict verdict) => verdict switch
    {
        LoweredVerdict.Accept => TraceVerdict.Accept,
        LoweredVerdict.Drop => TraceVerdict.Drop,
        LoweredVerdict.Reject => TraceVerdict.Reject,
        LoweredVerdict.Return => TraceVerdict.Return,
        LoweredVerdict.Continue => TraceVerdict.Continue,
        _ => throw new ArgumentOutOfRangeException(nameof(verdict)),
    };

    internal static string ChainName(LoweredRule rule) => rule.Chain switch
    {
        LoweredChain.FromVm => rule.ChainSuffix == FilterDefinition.RootChain ? "I" : "I-" + rule.ChainSuffix,
        LoweredChain.ToVm => rule.ChainSuffix == FilterDefinition.RootChain ? "O" : "O-" + rule.ChainSuffix,
        LoweredChain.ForwardFromVm => "FI",
        LoweredChain.ForwardToVm => "FO",
        LoweredChain.HostFromVm => "HI",
        _ => rule.Chain.ToString(),
    };

    private static string RuleXml(LoweredRule rule) => NwFilterXmlWriter.Write(rule.Origin.Instance.Rule);

    private static bool JumpMatches(SubChainProtocol protocol, TracePacket packet) => protocol switch
    {
        SubChainProtocol.Ipv4 => packet.EtherType == TracePacketBuilder.EtherIPv4,
        SubChainProtocol.Ipv6 => packet.EtherType == TracePacketBuilder.EtherIPv6,
        SubChainProtocol.Arp => packet.EtherType == TracePacketBuilder.EtherArp,
        SubChainProtocol.Rarp => packet.EtherType == TracePacketBuilder.EtherRarp,
        SubChainProtocol.Vlan => packet.EtherType == 0x8100,
        SubChainProtocol.Stp => packet.DestinationMac.Equals(StpGroup),
        SubChainProtocol.Mac => true,
        _ => false,
    };

    private static readonly PhysicalAddress StpGroup = new([0x01, 0x80, 0xc2, 0, 0, 0]);

    /// <summary>Null when the rule matches the packet, else the reason it does not (the first field that fails).</summary>
    internal static string? Mismatch(LoweredRule rule, TracePacket packet)
    {
        if (HeaderMismatch(rule, packet) is { } header)
        {
            return header;
        }
        foreach (var m in rule.Matches)
        {
            if (FieldMismatch(rule, m, packet) is { } reason)
            {
                return reason;
            }
        }
        if (rule.Icmpv6 is { } span)
        {
            if (packet.IpProtocol != 58 || packet.IcmpType is null)
            {
                return "type: the packet is not ICMPv6.";
            }
            var inside = packet.IcmpType >= span.TypeLow && packet.IcmpType <= span.TypeHigh && packet.IcmpCode >= span.CodeLow && packet.IcmpCode <= span.CodeHigh;
            if (inside == span.Negated)
            {
                return $"type: ICMPv6 {packet.IcmpType}/{packet.IcmpCode} is {(inside ? "" : "not ")}in {span.TypeLow}-{span.TypeHigh}/{span.CodeLow}-{span.CodeHigh}{(span.Negated ? " (negated)" : "")}.";
            }
        }
        if (rule.Ndp is not null)
        {
            return "ndtarget/ndlladdr: the trace does not model NDP options; the rule is taken as not matching.";
        }
        if (rule.State is { } state)
        {
            var states = state.States.Split(',');
            var name = packet.ConnectionState.ToString().ToUpperInvariant();
            if (!states.Contains(name, StringComparer.Ordinal))
            {
                return $"state: the packet is {name}, the rule wants {state.States}.";
            }
            var wanted = state.Direction switch
            {
                ConnectionDirection.Original => TraceConnectionDirection.Original,
                ConnectionDirection.Reply => TraceConnectionDirection.Reply,
                _ => (TraceConnectionDirection?)null,
            };
            if (wanted is { } w && packet.ConnectionDirection != w)
            {
                return $"state: the packet travels the {packet.ConnectionDirection.ToString().ToLowerInvariant()} direction, the rule wants {w.ToString().ToLowerInvariant()}.";
            }
        }
        if (rule.IpSet is { } set)
        {
            return $"ipset: membership of set '{set.Name}' is not simulated (taken as not matching).";
        }
        if (rule.Connlimit is { } limit && !limit.Negated)
        {
            return $"connlimit-above: the connection count is not simulated (taken as 0, not above {limit.Above.Number}).";
        }
        return null;
    }

    private static string? HeaderMismatch(LoweredRule rule, TracePacket packet)
    {
        string? Need(ushort etherType, string what) =>
            packet.EtherType == etherType ? null : $"protocol: the rule is for {what} frames, the packet is {Describe(packet)}.";
        switch (rule.Protocol)
        {
            case ProtocolKind.None or ProtocolKind.Mac:
                return null;
            case ProtocolKind.Vlan:
                return Need(0x8100, "VLAN");
            case ProtocolKind.Stp:
                return "protocol: the rule is for STP BPDUs, which the trace cannot describe.";
            case ProtocolKind.Arp:
                return Need(TracePacketBuilder.EtherArp, "ARP");
            case ProtocolKind.Rarp:
                return Need(TracePacketBuilder.EtherRarp, "RARP");
            case ProtocolKind.Ip:
                return Need(TracePacketBuilder.EtherIPv4, "IPv4");
            case ProtocolKind.Ipv6:
                return Need(TracePacketBuilder.EtherIPv6, "IPv6");
        }
        var schema = ProtocolSchema.Of(rule.Protocol);
        var family = schema.Layer == ProtocolLayer.IPv6 ? TracePacketBuilder.EtherIPv6 : TracePacketBuilder.EtherIPv4;
        if (packet.EtherType != family)
        {
            return $"protocol: the rule is for {schema.ElementName} ({(family == TracePacketBuilder.EtherIPv6 ? "IPv6" : "IPv4")}), the packet is {Describe(packet)}.";
        }
        byte? wanted = rule.Protocol switch
        {
            ProtocolKind.Tcp or ProtocolKind.TcpIpv6 => 6,
            ProtocolKind.Udp or ProtocolKind.UdpIpv6 => 17,
            ProtocolKind.Udplite or ProtocolKind.UdpliteIpv6 => 136,
            ProtocolKind.Esp or ProtocolKind.EspIpv6 => 50,
            ProtocolKind.Ah or ProtocolKind.AhIpv6 => 51,
            ProtocolKind.Sctp or ProtocolKind.SctpIpv6 => 132,
            ProtocolKind.Icmp => 1,
            ProtocolKind.Icmpv6 => 58,
            ProtocolKind.Igmp => 2,
            _ => null,
        };
        return wanted is { } p && packet.IpProtocol != p
            ? $"protocol: the rule is for {schema.ElementName}, the packet is {Describe(packet)}."
            : null;
    }

    private static string Describe(TracePacket packet) => packet.Protocol.Length > 0 ? packet.Protocol : $"ether type 0x{packet.EtherType:x4}";

    private static string? FieldMismatch(LoweredRule rule, LoweredMatch m, TracePacket p)
    {
        var name = ProtocolSchema.Of(rule.Protocol).Find(m.Attribute)?.Name ?? m.Attribute.ToString();
        bool? test;
        string seen;
        switch (m.Field)
        {
            case MatchField.SourceMac or MatchField.DestinationMac:
            {
                var mac = m.Field == MatchField.SourceMac ? p.SourceMac : p.DestinationMac;
                test = MacEquals(mac, m.Value, m.Extra);
                seen = $"{(m.Field == MatchField.SourceMac ? "source" : "destination")} MAC {TracePacket.Mac(mac)}";
                break;
            }
            case MatchField.ArpSourceMac or MatchField.ArpDestinationMac:
            {
                var mac = m.Field == MatchField.ArpSourceMac ? p.ArpSenderMac : p.ArpTargetMac;
                test = mac is null ? null : MacEquals(mac, m.Value, null);
                seen = $"ARP {(m.Field == MatchField.ArpSourceMac ? "sender" : "target")} MAC {TracePacket.Mac(mac)}";
                break;
            }
            case MatchField.EtherType:
                test = p.EtherType == m.Value.Number;
                seen = $"ether type 0x{p.EtherType:x4}";
                break;
            case MatchField.SourceIp or MatchField.DestinationIp or MatchField.ArpSourceIp or MatchField.ArpDestinationIp:
            {
                var source = m.Field is MatchField.SourceIp or MatchField.ArpSourceIp;
                var address = source ? p.SourceAddress : p.DestinationAddress;
                test = address is null ? null : InPrefix(address, m.Value.Address!, m.Extra is null ? null : (int)m.Extra.Number);
                seen = $"{(source ? "source" : "destination")} address {address?.ToString() ?? "-"}";
                break;
            }
            case MatchField.SourceIpRange or MatchField.DestinationIpRange:
            {
                var source = m.Field == MatchField.SourceIpRange;
                var address = source ? p.SourceAddress : p.DestinationAddress;
                test = address is null ? null : InRange(address, m.Value.Address!, (m.Extra ?? m.Value).Address!);
                seen = $"{(source ? "source" : "destination")} address {address?.ToString() ?? "-"}";
                break;
            }
            case MatchField.IpProtocol:
                test = p.IpProtocol is { } proto ? proto == m.Value.Number : null;
                seen = $"IP protocol {p.IpProtocol?.ToString(CultureInfo.InvariantCulture) ?? "-"}";
                break;
            case MatchField.SourcePort or MatchField.DestinationPort:
            {
                var port = m.Field == MatchField.SourcePort ? p.SourcePort : p.DestinationPort;
                test = port is { } n ? n >= m.Value.Number && n <= (m.Extra ?? m.Value).Number : null;
                seen = $"{(m.Field == MatchField.SourcePort ? "source" : "destination")} port {port?.ToString(CultureInfo.InvariantCulture) ?? "-"}";
                break;
            }
            case MatchField.TosByte:
                test = p.IpFamily is not null ? p.Tos == m.Value.Number : null;
                seen = $"TOS byte {p.Tos}";
                break;
            case MatchField.Dscp:
                test = p.IpFamily is not null ? (p.Tos >> 2) == (int)m.Value.Number : null;
                seen = $"DSCP {p.Tos >> 2}";
                break;
            case MatchField.TcpFlags:
            {
                if (p.TcpFlags is not { } flags)
                {
                    test = null;
                }
                else
                {
                    var (maskWord, flagWord) = RuleAttributes.TcpFlagWords(m.Value.Text);
                    int mask = TracePacketBuilder.ParseTcpFlags(maskWord), want = TracePacketBuilder.ParseTcpFlags(flagWord);
                    test = (flags & mask) == want;
                }
                seen = $"TCP flags {(p.TcpFlags is { } f ? TracePacketBuilder.FormatTcpFlags(f) : "-")}";
                break;
            }
            case MatchField.IcmpType:
                test = p.IcmpType is { } type ? type == m.Value.Number && (m.Extra is null || p.IcmpCode == m.Extra.Number) : null;
                seen = $"ICMP type/code {p.IcmpType?.ToString(CultureInfo.InvariantCulture) ?? "-"}/{p.IcmpCode?.ToString(CultureInfo.InvariantCulture) ?? "-"}";
                break;
            case MatchField.ArpHardwareType:
                test = p.ArpOpcode is null ? null : m.Value.Number == 1;
                seen = "ARP hardware type 1 (Ethernet)";
                break;
            case MatchField.ArpProtocolType:
                test = p.ArpOpcode is null ? null : m.Value.Number == 0x0800;
                seen = "ARP protocol type 0x0800";
                break;
            case MatchField.ArpOpcode:
                test = p.ArpOpcode is { } op ? op == m.Value.Number : null;
                seen = $"ARP opcode {p.ArpOpcode?.ToString(CultureInfo.InvariantCulture) ?? "-"}";
                break;
            case MatchField.ArpGratuitous:
                test = p.ArpOpcode is null ? null : Equals(p.SourceAddress, p.DestinationAddress);
                seen = "a gratuitous ARP: " + (Equals(p.SourceAddress, p.DestinationAddress) ? "yes" : "no");
                break;
            case MatchField.TcpOption:
                return $"{name}: TCP options are not simulated (taken as not matching).";
            default:
                return $"{name}: {m.Field} is not simulated (taken as not matching).";
        }
        if (test is null)
        {
            return $"{name}: the packet has no such field ({seen}).";
        }
        if (test.Value != m.Negated)
        {
            return null;
        }
        var wanted = m.Extra is null ? m.Value.Text : $"{m.Value.Text}/{m.Extra.Text}";
        return m.Negated ? $"{name}: {seen} is {wanted}, which the rule excludes." : $"{name}: {seen} is not {wanted}.";
    }

    private static bool MacEquals(PhysicalAddress mac, TypedValue value, TypedValue? mask)
    {
        var a = mac.GetAddressBytes();
        var b = value.Mac!.GetAddressBytes();
        var k = mask?.Mac?.GetAddressBytes();
        for (var i = 0; i < 6; i++)
        {
            var keep = k is null ? (byte)0xff : k[i];
            if ((a[i] & keep) != (b[i] & keep))
            {
                return false;
            }
        }
        return true;
    }

    private static bool InPrefix(IPAddress address, IPAddress network, int? prefix)
    {
        if (address.AddressFamily != network.AddressFamily)
        {
            return false;
        }
        var a = address.GetAddressBytes();
        var n = network.GetAddressBytes();
        var bits = Math.Min(prefix ?? a.Length * 8, a.Length * 8);
        for (var i = 0; i < a.Length; i++)
        {
            var keep = Math.Clamp(bits - (i * 8), 0, 8);
            var mask = (byte)(0xff << (8 - keep));
            if ((a[i] & mask) != (n[i] & mask))
            {
                return false;
            }
        }
        return true;
    }

    private static bool InRange(IPAddress address, IPAddress low, IPAddress high)
    {
        if (address.AddressFamily != low.AddressFamily || address.AddressFamily != high.AddressFamily)
        {
            return false;
        }
        var a = address.GetAddressBytes();
        return Compare(a, low.GetAddressBytes()) >= 0 && Compare(a, high.GetAddressBytes()) <= 0;

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
