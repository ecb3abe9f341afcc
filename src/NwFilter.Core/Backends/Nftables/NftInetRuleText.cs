using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;
using static NwFilter.Core.Backends.EbIpTables.RuleValues;
using static NwFilter.Core.Backends.Nftables.NftValues;
using static NwFilter.Core.Model.AttributeId;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// The inet-family rules of one layer-4 rule: the same copies, in the same order, with the same decisions as libvirt's
/// iptables/ip6tables rules (SEMANTICS.md 6.2, 6.5, 6.6): FI (forwarded from the VM, libvirt's FJ), FO (forwarded to
/// the VM, FP), HI (from the VM to the host, HJ). Each rule starts with <c>meta nfproto ipv4|ipv6</c>, since one
/// inet chain holds what libvirt splits between iptables and ip6tables.
/// </summary>
internal static class NftInetRuleText
{
    /// <summary>One copy: the role of its chain and its rule.</summary>
    public readonly record struct Copy(string Role, NftRule Rule);

    /// <summary>The copies of <paramref name="rule"/>, in the order FI, FO, HI.</summary>
    public static List<Copy> Build(FilterRule rule)
    {
        if (Get(rule, IpSet) is not null)
        {
            throw NftablesCodes.Unsupported(NftablesCodes.IpSetUnsupported, rule, "ipset",
                $"The rule matches the ipset '{Get(rule, IpSet)!.Text}': nftables rules cannot refer to the kernel's ipsets " +
                "(nft sets live inside a table, and NwFilter owns its tables). Use the ebiptables backend for this filter.");
        }
        var comment = Comment(rule);
        var output = new List<Copy>(3);
        var directionIn = rule.Direction is RuleDirection.In or RuleDirection.InOut;
        var inout = rule.Direction == RuleDirection.InOut;
        var state = Get(rule, State);

        void Add(string role, NftRule? built)
        {
            if (built is not null)
            {
                output.Add(new Copy(role, built));
            }
        }

        if (rule.StateMatch && state is not null)
        {
            // The explicit-state path: the rule's own states, no direction test, copies chosen by direction.
            var states = StateList(state.Text);
            if (!directionIn || inout)
            {
                Add(NftPortRuleset.ForwardFromVm, One(rule, directionIn, states, false, NftVerdict.Return, directionIn || inout, comment));
            }
            if (directionIn)
            {
                Add(NftPortRuleset.ForwardToVm, One(rule, !directionIn, states, false, NftVerdict.Accept, !directionIn || inout, comment));
            }
            if (!directionIn || inout)
            {
                Add(NftPortRuleset.HostFromVm, One(rule, directionIn, states, false, NftVerdict.Return, directionIn, comment));
            }
            return output;
        }

        // The default path: the copy facing the rule's direction allows new,established, the reply copy established.
        var needState = !inout && rule.StateMatch;
        string? Reply(bool reversed) => needState ? (reversed ? "established" : "new,established") : null;
        Add(NftPortRuleset.ForwardFromVm, One(rule, directionIn, Reply(directionIn), true, NftVerdict.Return, directionIn || inout, comment));
        Add(NftPortRuleset.ForwardToVm, One(rule, !directionIn, Reply(!directionIn), true, NftVerdict.Accept, !directionIn || inout, comment));
        Add(NftPortRuleset.HostFromVm, One(rule, directionIn, Reply(directionIn), true, NftVerdict.Return, directionIn, comment));
        return output;
    }

    /// <summary>
    /// One copy, as IptablesRuleText builds it: <paramref name="reverse"/> swaps source and destination;
    /// <paramref name="defaultPath"/> drops the state of non-accept rules and adds the direction test;
    /// <paramref name="maySkipIcmp"/> drops the copy of a rule with an ICMP type. Null when the copy is dropped.
    /// </summary>
    private static NftRule? One(FilterRule rule, bool reverse, string? states, bool defaultPath, NftVerdict acceptVerdict, bool maySkipIcmp, string? comment)
    {
        var ipv6 = ProtocolSchema.Of(rule.Protocol).Layer == ProtocolLayer.IPv6;
        var family = ipv6 ? "ip6" : "ip";
        var match = new List<string>(12) { ipv6 ? "meta nfproto ipv6" : "meta nfproto ipv4" };
        if (L4Proto(rule.Protocol) is { } proto)
        {
            match.Add("meta l4proto " + proto);
        }
        var header = match.Count;
        bool skipRule = false, skipState = false, hasIcmpType = false, srcMacSkipped = false;

        // srcmacaddr only matches in non-reversed copies.
        if (Get(rule, SrcMacAddr) is { } mac)
        {
            if (reverse)
            {
                srcMacSkipped = true;
            }
            else
            {
                Compare(match, rule, SrcMacAddr, "ether saddr", Mac(mac));
            }
        }
        Address(match, rule, $"{family} {(reverse ? "daddr" : "saddr")}", SrcIpAddr, SrcIpMask, SrcIpFrom, SrcIpTo, ipv6);
        Address(match, rule, $"{family} {(reverse ? "saddr" : "daddr")}", DstIpAddr, DstIpMask, DstIpFrom, DstIpTo, ipv6);
        if (Get(rule, Dscp) is { } dscp)
        {
            Compare(match, rule, Dscp, $"{family} dscp", Number(dscp));
        }
        if (Has(rule, ConnlimitAbove))
        {
            // connlimit counts the VM's own connections: a reversed copy is dropped, the other loses its state test.
            if (reverse)
            {
                skipRule = true;
            }
            else
            {
                skipState = true;
            }
        }

        switch (rule.Protocol)
        {
            case ProtocolKind.Tcp or ProtocolKind.TcpIpv6:
                if (Get(rule, TcpFlags) is { } flags)
                {
                    var (mask, set) = IptablesRuleText.TcpFlagsText(flags.Text);
                    match.Add($"tcp flags & {Flags(mask)} {(Negated(rule, TcpFlags) ? "!=" : "==")} {Flags(set)}");
                }
                Ports(match, rule, reverse, "tcp");
                if (Get(rule, TcpOption) is { } option)
                {
                    match.Add($"tcp option {Number(option)} {(Negated(rule, TcpOption) ? "missing" : "exists")}");
                }
                break;
            case ProtocolKind.Udp or ProtocolKind.UdpIpv6:
                Ports(match, rule, reverse, "udp");
                break;
            case ProtocolKind.Sctp or ProtocolKind.SctpIpv6:
                Ports(match, rule, reverse, "sctp");
                break;
            case ProtocolKind.Icmp or ProtocolKind.Icmpv6:
                if (Get(rule, AttributeId.Type) is { } type)
                {
                    hasIcmpType = true;
                    if (maySkipIcmp)
                    {
                        return null;
                    }
                    var icmp = rule.Protocol == ProtocolKind.Icmp ? "icmp" : "icmpv6";
                    var code = Get(rule, Code);
                    if (!Negated(rule, AttributeId.Type))
                    {
                        match.Add(code is null ? $"{icmp} type {Number(type)}" : $"{icmp} type {Number(type)} {icmp} code {Number(code)}");
                    }
                    else
                    {
                        // iptables negates type and code together.
                        match.Add(code is null ? $"{icmp} type != {Number(type)}" : $"{icmp} type . {icmp} code != {{ {Number(type)} . {Number(code)} }}");
                    }
                }
                break;
        }

        if ((srcMacSkipped && match.Count == header) || skipRule)
        {
            return null;
        }

        NftVerdict verdict;
        if (rule.Action == RuleAction.Accept)
        {
            verdict = acceptVerdict;
        }
        else
        {
            verdict = Verdict(rule.Action);
            skipState |= defaultPath;
        }

        if (states is not null && !skipState)
        {
            match.Add("ct state " + states);
            if (defaultPath && !hasIcmpType && rule.Direction != RuleDirection.InOut)
            {
                match.Add(reverse ? "ct direction reply" : "ct direction original");
            }
        }
        if (!reverse && Get(rule, ConnlimitAbove) is { } connlimit)
        {
            // iptables counts per source address; in a per-port chain that is the VM's own connections.
            match.Add(Negated(rule, ConnlimitAbove) ? $"ct count {Number(connlimit)}" : $"ct count over {Number(connlimit)}");
        }
        return new NftRule(string.Join(' ', match), verdict, comment);
    }

    /// <summary>The iptables target as an nft verdict. CONTINUE, which iptables lacks (libvirt's command fails), is nft's continue.</summary>
    public static NftVerdict Verdict(RuleAction action) => action switch
    {
        RuleAction.Accept => NftVerdict.Accept,
        RuleAction.Drop => NftVerdict.Drop,
        RuleAction.Reject => NftVerdict.Reject,
        RuleAction.Return => NftVerdict.Return,
        RuleAction.Continue => NftVerdict.Continue,
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };

    /// <summary>The protocol for <c>meta l4proto</c> (which, like iptables' -p, skips IPv6 extension headers); null for all.</summary>
    private static string? L4Proto(ProtocolKind kind) => kind switch
    {
        ProtocolKind.All or ProtocolKind.AllIpv6 => null,
        ProtocolKind.Icmpv6 => "ipv6-icmp",
        _ => IptablesRuleText.ProtocolName(kind),
    };

    /// <summary>A source or destination: <c>EXPR [!=] NET</c>, or a range <c>EXPR [!=] FROM[-TO]</c>.</summary>
    private static void Address(List<string> match, FilterRule rule, string expression, AttributeId address, AttributeId mask, AttributeId from, AttributeId to, bool ipv6)
    {
        if (Get(rule, address) is { } value)
        {
            Compare(match, rule, address, expression, Network(value, Get(rule, mask)));
        }
        else if (Get(rule, from) is { } start)
        {
            var end = Get(rule, to);
            if (end is not null && (end.Address!.AddressFamily != start.Address!.AddressFamily || ipv6 != (start.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)))
            {
                throw NftablesCodes.Unsupported(NftablesCodes.MatchUnsupported, rule, "dstipto",
                    $"The address range {start.Text}-{end.Text} mixes IPv4 and IPv6 (libvirt types dstipto as IPv4 in every protocol); nft cannot match it.");
            }
            Compare(match, rule, from, expression, end is null ? Ip(start) : $"{Ip(start)}-{Ip(end)}");
        }
    }

    /// <summary><c>P sport [!=] LO[-HI]</c> then <c>P dport</c>; reversed, the source ports are the destination ports.</summary>
    private static void Ports(List<string> match, FilterRule rule, bool reverse, string protocol)
    {
        if (Get(rule, SrcPortStart) is { } srcLow)
        {
            Compare(match, rule, SrcPortStart, $"{protocol} {(reverse ? "dport" : "sport")}", Range(srcLow, Get(rule, SrcPortEnd)));
        }
        if (Get(rule, DstPortStart) is { } dstLow)
        {
            Compare(match, rule, DstPortStart, $"{protocol} {(reverse ? "sport" : "dport")}", Range(dstLow, Get(rule, DstPortEnd)));
        }
    }

    /// <summary>iptables' flag word (NONE, ALL, FIN,SYN,...) as an nft tcp flags value.</summary>
    private static string Flags(string word) => word switch
    {
        "NONE" => "0x0",
        "ALL" => "(fin | syn | rst | psh | ack | urg)",
        _ => word.Contains(',', StringComparison.Ordinal)
            ? "(" + string.Join(" | ", word.Split(',').Select(f => f.ToLowerInvariant())) + ")"
            : word.ToLowerInvariant(),
    };

    /// <summary>The conntrack states in libvirt's order (new, established, related, invalid); null for NONE.</summary>
    private static string? StateList(string canonical) => IptablesRuleText.StateList(canonical)?.ToLowerInvariant();
}
