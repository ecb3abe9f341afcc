using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using static NwFilter.Core.Backends.EbIpTables.RuleValues;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// Prints one lowered layer-4 rule copy as its iptables/ip6tables command: <c>-w -A CHAIN -p PROTO</c>, the matches in
/// the lowered order, the conntrack, ipset, connlimit and comment matches, <c>-j TARGET</c>. Which copies exist, what
/// they swap, their states and verdicts are <see cref="RuleLowering"/>'s; only iptables syntax is decided here: the
/// <c>!</c> before the option, or after the module name for <c>-m mac|iprange|dscp|connlimit</c>; <c>--ctdir</c>'s
/// capitalised words; an ipset match only with its flags (iptables' <c>--match-set</c> needs both).
/// </summary>
internal static class IptablesRuleText
{
    /// <summary>The copy's command for interface <paramref name="ifname"/>.</summary>
    public static FirewallCommand Build(LoweredRule rule, string ifname)
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
        return new FirewallCommand(program, [.. args]) { Origin = rule.Origin };
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
