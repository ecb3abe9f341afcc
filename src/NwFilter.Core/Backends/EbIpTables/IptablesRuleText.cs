using System.Globalization;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using static NwFilter.Core.Backends.EbIpTables.RuleValues;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// Prints one lowered layer-4 rule copy as its iptables/ip6tables command: <c>-w -A CHAIN -p PROTO</c>, the matches in
/// the lowered order, the conntrack, ipset, connlimit and comment matches, <c>-j TARGET</c>. Which copies exist, what
/// they swap, their states and verdicts are <see cref="RuleLowering"/>'s; only iptables syntax is decided here: the
/// <c>!</c> before the option, or after the module name for <c>-m mac|iprange|dscp|connlimit</c>; <c>--ctdir</c>'s
/// capitalised words; an ipset match only with its flags (iptables' <c>--match-set</c> needs both); NwFilter's NDP
/// fields of <c>icmpv6</c> as <c>-m u32</c> tests (<see cref="NdpTests"/>).
/// </summary>
internal static class IptablesRuleText
{
    /// <summary>A layer-3 rule drops or rejects by an NDP field (<c>ndtarget</c>, <c>ndlladdr</c>), which the u32 test cannot do completely.</summary>
    public const string IptablesNdpDropUnsupported = "IptablesNdpDropUnsupported";

    /// <summary>
    /// The copy's commands for interface <paramref name="ifname"/>: one, or for a copy with an NDP link-layer test the
    /// three of <see cref="NdpTests"/>, with one verdict.
    /// </summary>
    public static IReadOnlyList<FirewallCommand> Build(LoweredRule rule, string ifname)
    {
        var program = rule.Layer == ProtocolLayer.IPv6 ? FirewallCommand.Ip6tables : FirewallCommand.Iptables;
        var chain = rule.Chain switch
        {
            LoweredChain.ForwardFromVm => ChainNames.Ipt('F', ChainNames.InTemp, ifname),
            LoweredChain.ForwardToVm => ChainNames.Ipt('F', ChainNames.OutTemp, ifname),
            LoweredChain.HostFromVm => ChainNames.Ipt('H', ChainNames.InTemp, ifname),
            _ => throw new ArgumentException($"{rule.Chain} is not a layer-4 chain.", nameof(rule)),
        };
        var args = new List<string>(28) { "-w", "-A", chain, "-p", ProtocolName(rule.Protocol) };
        foreach (var m in rule.Matches)
        {
            Match(args, rule.Protocol, m);
        }
        var head = args.Count;
        if (rule.State is { } state)
        {
            args.AddRange(["-m", "conntrack", "--ctstate", state.States]);
            if (state.Direction != ConnectionDirection.Any)
            {
                args.AddRange(["-m", "conntrack", "--ctdir", state.Direction == ConnectionDirection.Reply ? "Reply" : "Original"]);
            }
        }
        if (rule.IpSet is { Flags: { } flags } ipset)
        {
            args.AddRange(["-m", "set", "--match-set", ipset.Name, flags]);
        }
        if (rule.Connlimit is { } connlimit)
        {
            args.AddRange(["-m", "connlimit"]);
            Negation(args, connlimit.Negated);
            args.AddRange(["--connlimit-above", Decimal(connlimit.Above)]);
        }
        if (rule.Comment is { } comment)
        {
            args.AddRange(["-m", "comment", "--comment", comment]);
        }
        args.AddRange(["-j", JumpTarget(rule.Verdict)]);
        if (rule.Ndp is not { } ndp)
        {
            return [new FirewallCommand(program, [.. args]) { Origin = rule.Origin }];
        }
        if (rule.Verdict is LoweredVerdict.Drop or LoweredVerdict.Reject)
        {
            // u32 reads fixed offsets: a message with an extension header before the ICMPv6 header escapes the test,
            // so a drop by it would be incomplete. A rule that lets NDP pass is only narrower (the drop after it takes the rest).
            var attribute = ndp.Target is not null ? "ndtarget" : "ndlladdr";
            throw new NwFilterException(Diagnostic.Error(IptablesNdpDropUnsupported,
                $"The icmpv6 rule drops by {attribute}, which ip6tables tests only at fixed offsets (u32, no extension headers); let the rule return and drop the message type after it, or use the nftables backend.",
                DiagnosticCategory.InvalidData) with { Element = "icmpv6", Attribute = attribute });
        }
        return [.. NdpTests(ndp).Select(test => new FirewallCommand(program, [.. args[..head], "-m", "u32", "--u32", test, .. args[head..]]) { Origin = rule.Origin })];
    }

    /// <summary>
    /// NwFilter's NDP fields as xt_u32 tests, in the form ip6tables lists them back (hex, <c>&amp;&amp;</c> between
    /// tests). u32 reads from the IPv6 header at fixed offsets, so every test first requires that the ICMPv6 header
    /// follows the fixed header (next header 58: no extension headers); the message then starts at byte 40, its target
    /// at 48 (<c>0x30</c>) and its first option at 40 + <see cref="NdpMatch.OptionsOffset"/>. The link-layer test is the
    /// nftables one (NftBridgeRuleText): three tests, one per rule, with one verdict: no option (payload length = the
    /// message alone), one 8-byte option of this message's link-layer type (length 1) carrying the MAC, or one 8-byte
    /// option of another type. A message with more options or extension headers matches none.
    /// </summary>
    internal static IReadOnlyList<string> NdpTests(NdpMatch ndp)
    {
        const int IcmpStart = 40;
        var target = "";
        if (ndp.Target is { } address)
        {
            var bytes = address.Address!.GetAddressBytes();
            target = string.Concat(Enumerable.Range(0, 4).Select(w =>
                $"&&{Hex(IcmpStart + 8 + 4 * w)}={Hex(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 * w)))}"));
        }
        if (ndp.LinkLayerAddress is not { } lladdr)
        {
            // Next header (byte 6) is ICMPv6.
            return [$"0x4&0xff00=0x3a00{target}"];
        }
        int options = ndp.OptionsOffset, at = IcmpStart + options;
        // Payload length (bytes 4-5) and next header (byte 6) in one word.
        string Length(int payload) => $"0x4&0xffffff00={Hex(((uint)payload << 16) | 0x3a00)}";
        var mac = lladdr.Mac!.GetAddressBytes();
        var type = ndp.LinkLayerOptionType;
        uint first = ((uint)type << 24) | (1u << 16) | ((uint)mac[0] << 8) | mac[1];
        var second = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(mac.AsSpan(2));
        return
        [
            $"{Length(options)}{target}",
            $"{Length(options + 8)}{target}&&{Hex(at)}={Hex(first)}&&{Hex(at + 4)}={Hex(second)}",
            $"{Length(options + 8)}{target}&&{Hex(at)}>>0x18={Range(0, type - 1)},{Range(type + 1, 0xff)}",
        ];

        static string Hex(long value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
        // ip6tables lists a one-value range as the value.
        static string Range(int low, int high) => low == high ? Hex(low) : $"{Hex(low)}:{Hex(high)}";
    }

    private static void Match(List<string> args, ProtocolKind protocol, LoweredMatch m)
    {
        switch (m.Field)
        {
            case MatchField.SourceMac: Module(args, m, "mac", "--mac-source", Address(m.Value)); break;
            case MatchField.SourceIp: Plain(args, m, "--source", IpWithPrefix(m)); break;
            case MatchField.DestinationIp: Plain(args, m, "--destination", IpWithPrefix(m)); break;
            case MatchField.SourceIpRange: Module(args, m, "iprange", "--src-range", AddressRange(m)); break;
            case MatchField.DestinationIpRange: Module(args, m, "iprange", "--dst-range", AddressRange(m)); break;
            case MatchField.Dscp: Module(args, m, "dscp", "--dscp", Decimal(m.Value)); break;
            case MatchField.TcpFlags:
                var (mask, set) = RuleAttributes.TcpFlagWords(m.Value.Text);
                Negation(args, m.Negated);
                args.AddRange(["--tcp-flags", mask, set]);
                break;
            case MatchField.SourcePort: Plain(args, m, "--sport", Range(m)); break;
            case MatchField.DestinationPort: Plain(args, m, "--dport", Range(m)); break;
            case MatchField.TcpOption: Plain(args, m, "--tcp-option", Decimal(m.Value)); break;
            case MatchField.IcmpType:
                Plain(args, m, protocol == ProtocolKind.Icmp ? "--icmp-type" : "--icmpv6-type",
                    m.Extra is { } code ? $"{Decimal(m.Value)}/{Decimal(code)}" : Decimal(m.Value));
                break;
            default:
                throw new ArgumentException($"{m.Field} is not an iptables match.", nameof(m));
        }
    }

    public static string JumpTarget(LoweredVerdict verdict) => verdict switch
    {
        LoweredVerdict.Accept => "ACCEPT",
        LoweredVerdict.Drop => "DROP",
        LoweredVerdict.Reject => "REJECT",
        LoweredVerdict.Return => "RETURN",
        // iptables has no CONTINUE target: libvirt prints it and the command fails; so does this one.
        LoweredVerdict.Continue => "CONTINUE",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict)),
    };

    public static string ProtocolName(ProtocolKind kind) => kind switch
    {
        ProtocolKind.Tcp or ProtocolKind.TcpIpv6 => "tcp",
        ProtocolKind.Udp or ProtocolKind.UdpIpv6 => "udp",
        ProtocolKind.Udplite or ProtocolKind.UdpliteIpv6 => "udplite",
        ProtocolKind.Esp or ProtocolKind.EspIpv6 => "esp",
        ProtocolKind.Ah or ProtocolKind.AhIpv6 => "ah",
        ProtocolKind.Sctp or ProtocolKind.SctpIpv6 => "sctp",
        ProtocolKind.Icmp => "icmp",
        ProtocolKind.Icmpv6 => "icmpv6",
        ProtocolKind.Igmp => "igmp",
        ProtocolKind.All or ProtocolKind.AllIpv6 => "all",
        _ => throw new ArgumentException($"{kind} is not a layer-4 protocol.", nameof(kind)),
    };

    private static string IpWithPrefix(LoweredMatch m) => m.Extra is { } mask ? $"{Address(m.Value)}/{Prefix(mask)}" : Address(m.Value);

    private static string AddressRange(LoweredMatch m) => m.Extra is { } end ? $"{Address(m.Value)}-{Address(end)}" : Address(m.Value);

    private static string Range(LoweredMatch m) => m.Extra is { } high ? $"{Decimal(m.Value)}:{Decimal(high)}" : Decimal(m.Value);

    /// <summary><c>[!] OPT VALUE</c>.</summary>
    private static void Plain(List<string> args, LoweredMatch m, string option, string value)
    {
        Negation(args, m.Negated);
        args.AddRange([option, value]);
    }

    /// <summary><c>-m MODULE [!] OPT VALUE</c>.</summary>
    private static void Module(List<string> args, LoweredMatch m, string module, string option, string value)
    {
        args.AddRange(["-m", module]);
        Negation(args, m.Negated);
        args.AddRange([option, value]);
    }

    private static void Negation(List<string> args, bool negated)
    {
        if (negated)
        {
            args.Add("!");
        }
    }
}
