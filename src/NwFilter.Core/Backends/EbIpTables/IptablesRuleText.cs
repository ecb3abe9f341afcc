using NwFilter.Core.Model;
using static NwFilter.Core.Backends.EbIpTables.RuleValues;
using static NwFilter.Core.Model.AttributeId;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// The iptables/ip6tables commands of one layer-4 rule (6.2, 6.5, 6.6): up to three copies, always in the order
/// FJ (forwarded from the VM), FP (forwarded to the VM), HJ (from the VM to the host). In iptables the <c>!</c>
/// precedes the option, or follows the module name for <c>-m mac|iprange|dscp|connlimit</c>.
/// </summary>
internal static class IptablesRuleText
{
    /// <summary>Appends the copies of <paramref name="rule"/> for interface <paramref name="ifname"/>.</summary>
    public static void Build(FilterRule rule, string ifname, List<FirewallCommand> output)
    {
        var program = ProtocolKindLayer(rule) == ProtocolLayer.IPv6 ? FirewallCommand.Ip6tables : FirewallCommand.Iptables;
        var directionIn = rule.Direction is RuleDirection.In or RuleDirection.InOut;
        var inout = rule.Direction == RuleDirection.InOut;
        var state = Get(rule, State);

        if (rule.StateMatch && state is not null)
        {
            // The explicit-state path: the rule's own state list, no ctdir, copies chosen by direction.
            var match = StateList(state.Text);
            if (!directionIn || inout)
            {
                Add(output, Copy(program, rule, ifname, 'F', ChainNames.InTemp, directionIn, match, false, "RETURN", directionIn || inout));
            }
            if (directionIn)
            {
                Add(output, Copy(program, rule, ifname, 'F', ChainNames.OutTemp, !directionIn, match, false, "ACCEPT", !directionIn || inout));
            }
            if (!directionIn || inout)
            {
                Add(output, Copy(program, rule, ifname, 'H', ChainNames.InTemp, directionIn, match, false, "RETURN", directionIn));
            }
            return;
        }

        // The default (implicit-state) path: the primary copy allows NEW,ESTABLISHED, the reply copy ESTABLISHED.
        var needState = !inout && rule.StateMatch;
        string? Reply(bool reversed) => needState ? (reversed ? "ESTABLISHED" : "NEW,ESTABLISHED") : null;
        Add(output, Copy(program, rule, ifname, 'F', ChainNames.InTemp, directionIn, Reply(directionIn), true, "RETURN", directionIn || inout));
        Add(output, Copy(program, rule, ifname, 'F', ChainNames.OutTemp, !directionIn, Reply(!directionIn), true, "ACCEPT", !directionIn || inout));
        Add(output, Copy(program, rule, ifname, 'H', ChainNames.InTemp, directionIn, Reply(directionIn), true, "RETURN", directionIn));
    }

    private static ProtocolLayer ProtocolKindLayer(FilterRule rule) => Schema.ProtocolSchema.Of(rule.Protocol).Layer;

    private static void Add(List<FirewallCommand> output, FirewallCommand? command)
    {
        if (command is not null)
        {
            output.Add(command);
        }
    }

    /// <summary>
    /// One copy. <paramref name="reverse"/> swaps source and destination; <paramref name="defaultMatch"/> marks the
    /// implicit-state path (its state is dropped for non-accept rules, and it adds ctdir); <paramref name="maySkipIcmp"/>
    /// drops the copy when the rule has an ICMP type. Returns null when the copy is dropped.
    /// </summary>
    private static FirewallCommand? Copy(
        string program, FilterRule rule, string ifname, char kind, char direction, bool reverse,
        string? match, bool defaultMatch, string acceptTarget, bool maySkipIcmp)
    {
        var args = new List<string>(28) { "-w", "-A", ChainNames.Ipt(kind, direction, ifname), "-p", ProtocolName(rule.Protocol) };
        var headerLength = args.Count;
        var skipRule = false;
        var skipMatch = false;
        var hasIcmpType = false;

        // srcmacaddr only matches in non-reversed copies.
        var srcMacSkipped = false;
        if (Get(rule, SrcMacAddr) is { } mac)
        {
            if (reverse)
            {
                srcMacSkipped = true;
            }
            else
            {
                Module(args, rule, SrcMacAddr, "mac", "--mac-source", RuleValues.Address(mac));
            }
        }

        Address(args, rule, reverse ? "--destination" : "--source", reverse ? "--dst-range" : "--src-range", SrcIpAddr, SrcIpMask, SrcIpFrom, SrcIpTo);
        Address(args, rule, reverse ? "--source" : "--destination", reverse ? "--src-range" : "--dst-range", DstIpAddr, DstIpMask, DstIpFrom, DstIpTo);
        if (Get(rule, Dscp) is { } dscp)
        {
            Module(args, rule, Dscp, "dscp", "--dscp", Decimal(dscp));
        }
        if (Has(rule, ConnlimitAbove))
        {
            // connlimit only works for the VM's own connections: a reversed copy is dropped, the other loses its state.
            if (reverse)
            {
                skipRule = true;
            }
            else
            {
                skipMatch = true;
            }
        }

        switch (rule.Protocol)
        {
            case ProtocolKind.Tcp or ProtocolKind.TcpIpv6:
                if (Get(rule, TcpFlags) is { } flags)
                {
                    var (mask, set) = TcpFlagsText(flags.Text);
                    Negation(args, rule, TcpFlags);
                    args.AddRange(["--tcp-flags", mask, set]);
                }
                Ports(args, rule, reverse);
                if (Get(rule, TcpOption) is { } option)
                {
                    Negation(args, rule, TcpOption);
                    args.AddRange(["--tcp-option", Decimal(option)]);
                }
                break;
            case ProtocolKind.Udp or ProtocolKind.UdpIpv6 or ProtocolKind.Sctp or ProtocolKind.SctpIpv6:
                Ports(args, rule, reverse);
                break;
            case ProtocolKind.Icmp or ProtocolKind.Icmpv6:
                if (Get(rule, AttributeId.Type) is { } type)
                {
                    hasIcmpType = true;
                    if (maySkipIcmp)
                    {
                        return null;
                    }
                    Negation(args, rule, AttributeId.Type);
                    args.Add(rule.Protocol == ProtocolKind.Icmp ? "--icmp-type" : "--icmpv6-type");
                    args.Add(Get(rule, Code) is { } code ? $"{Decimal(type)}/{Decimal(code)}" : Decimal(type));
                }
                break;
        }

        if ((srcMacSkipped && args.Count == headerLength) || skipRule)
        {
            return null;
        }

        string target;
        if (rule.Action == RuleAction.Accept)
        {
            target = acceptTarget;
        }
        else
        {
            target = JumpTarget(rule.Action);
            skipMatch = defaultMatch;
        }

        if (match is not null && !skipMatch)
        {
            args.AddRange(["-m", "conntrack", "--ctstate", match]);
            if (defaultMatch && !hasIcmpType && rule.Direction != RuleDirection.InOut)
            {
                args.AddRange(["-m", "conntrack", "--ctdir", reverse ? "Reply" : "Original"]);
            }
        }

        if (Get(rule, IpSet) is { } ipset && Get(rule, IpSetFlags) is { } ipsetFlags)
        {
            args.AddRange(["-m", "set", "--match-set", ipset.Text, IpSetFlagsText(ipsetFlags.Text, reverse)]);
        }
        if (!reverse && Get(rule, ConnlimitAbove) is { } connlimit)
        {
            Module(args, rule, ConnlimitAbove, "connlimit", "--connlimit-above", Decimal(connlimit));
        }
        if (Get(rule, Comment) is { } comment)
        {
            args.AddRange(["-m", "comment", "--comment", comment.Text]);
        }
        args.AddRange(["-j", target]);
        return new FirewallCommand(program, [.. args]);
    }

    public static string JumpTarget(RuleAction action) => action switch
    {
        RuleAction.Accept => "ACCEPT",
        RuleAction.Drop => "DROP",
        RuleAction.Reject => "REJECT",
        RuleAction.Return => "RETURN",
        RuleAction.Continue => "CONTINUE",
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
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

    /// <summary>A source or destination: <c>[!] OPT ADDR[/PREFIX]</c>, or <c>-m iprange [!] RANGEOPT FROM[-TO]</c>.</summary>
    private static void Address(List<string> args, FilterRule rule, string option, string rangeOption,
        AttributeId address, AttributeId mask, AttributeId from, AttributeId to)
    {
        if (Get(rule, address) is { } value)
        {
            Negation(args, rule, address);
            args.Add(option);
            args.Add(Get(rule, mask) is { } m ? $"{RuleValues.Address(value)}/{Prefix(m)}" : RuleValues.Address(value));
        }
        else if (Get(rule, from) is { } start)
        {
            Module(args, rule, from, "iprange", rangeOption,
                Get(rule, to) is { } end ? $"{RuleValues.Address(start)}-{RuleValues.Address(end)}" : RuleValues.Address(start));
        }
    }

    /// <summary><c>[!] --sport P[:Q]</c> then <c>[!] --dport P[:Q]</c>; reversed, the source ports print as --dport (first).</summary>
    private static void Ports(List<string> args, FilterRule rule, bool reverse)
    {
        PortRange(args, rule, SrcPortStart, SrcPortEnd, reverse ? "--dport" : "--sport");
        PortRange(args, rule, DstPortStart, DstPortEnd, reverse ? "--sport" : "--dport");
    }

    private static void PortRange(List<string> args, FilterRule rule, AttributeId start, AttributeId end, string option)
    {
        if (Get(rule, start) is { } low)
        {
            Negation(args, rule, start);
            args.Add(option);
            args.Add(Get(rule, end) is { } high ? $"{Decimal(low)}:{Decimal(high)}" : Decimal(low));
        }
    }

    /// <summary><c>-m MODULE [!] OPT VALUE</c>.</summary>
    private static void Module(List<string> args, FilterRule rule, AttributeId id, string module, string option, string value)
    {
        args.AddRange(["-m", module]);
        Negation(args, rule, id);
        args.AddRange([option, value]);
    }

    private static void Negation(List<string> args, FilterRule rule, AttributeId id)
    {
        if (Negated(rule, id))
        {
            args.Add("!");
        }
    }

    private static readonly string[] StateOrder = ["NEW", "ESTABLISHED", "RELATED", "INVALID"];

    /// <summary>The <c>--ctstate</c> list in libvirt's order, or null for <c>NONE</c> (no conntrack match at all).</summary>
    internal static string? StateList(string canonical)
    {
        var items = canonical.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries);
        if (items.Any(i => i.Equals("NONE", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }
        var selected = StateOrder.Where(s => items.Any(i => i.Equals(s, StringComparison.OrdinalIgnoreCase))).ToArray();
        return selected.Length == 0 ? null : string.Join(',', selected);
    }

    private static readonly string[] TcpFlagOrder = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];

    /// <summary><c>MASK/FLAGS</c> as the two iptables words: NONE, ALL, or the flags in FIN..URG order.</summary>
    internal static (string Mask, string Flags) TcpFlagsText(string canonical)
    {
        var slash = canonical.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            throw new FormatException($"TCP flags '{canonical}' are not MASK/FLAGS.");
        }
        return (FlagWord(canonical[..slash]), FlagWord(canonical[(slash + 1)..]));
    }

    private static string FlagWord(string list)
    {
        var bits = 0;
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (item.Equals("ALL", StringComparison.OrdinalIgnoreCase))
            {
                bits = 0x3f;
                continue;
            }
            if (item.Equals("NONE", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var index = Array.FindIndex(TcpFlagOrder, f => f.Equals(item, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                throw new FormatException($"'{item}' is not a TCP flag.");
            }
            bits |= 1 << index;
        }
        return bits switch
        {
            0 => "NONE",
            0x3f => "ALL",
            _ => string.Join(',', TcpFlagOrder.Where((_, i) => (bits & (1 << i)) != 0)),
        };
    }

    /// <summary>The ipset flags (<c>src,dst,...</c>), with src and dst swapped in a reversed copy.</summary>
    internal static string IpSetFlagsText(string canonical, bool reverse) =>
        string.Join(',', canonical.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(flag =>
            (flag.Equals("src", StringComparison.OrdinalIgnoreCase) != reverse) ? "src" : "dst"));
}
