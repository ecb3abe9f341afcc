using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using static NwFilter.Core.Backends.Nftables.NftValues;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// Prints one lowered layer-4 rule copy as an inet-family nft rule in FI (forwarded from the VM, libvirt's FJ), FO
/// (forwarded to the VM, FP) or HI (from the VM to the host, HJ). Which copies exist, what they swap, their states and
/// verdicts are <see cref="RuleLowering"/>'s. Decided here: each rule starts with <c>meta nfproto ipv4|ipv6</c> (one
/// inet chain holds what libvirt splits between iptables and ip6tables), nft's spelling of each match, and the refusals
/// of what nft cannot express (ipsets, mixed-family ranges, unwritable comments). NwFilter's NDP fields of
/// <c>icmpv6</c> are the bridge family's payload tests (<see cref="NftBridgeRuleText.Ndp"/>), one to three rules.
/// </summary>
internal static class NftInetRuleText
{
    /// <summary>The role of a layer-4 copy's chain.</summary>
    public static string Role(LoweredChain chain) => chain switch
    {
        LoweredChain.ForwardFromVm => NftPortRuleset.ForwardFromVm,
        LoweredChain.ForwardToVm => NftPortRuleset.ForwardToVm,
        LoweredChain.HostFromVm => NftPortRuleset.HostFromVm,
        _ => throw new ArgumentException($"{chain} is not a layer-4 chain.", nameof(chain)),
    };

    /// <summary>The copy's rules: one, or the three of an NDP link-layer test with one verdict.</summary>
    public static IReadOnlyList<NftRule> Build(LoweredRule rule)
    {
        var source = rule.Origin.Instance.Rule;
        if (rule.IpSet is { } ipset)
        {
            throw NftablesCodes.Unsupported(NftablesCodes.IpSetUnsupported, source, "ipset",
                $"The rule matches the ipset '{ipset.Name}': nftables rules cannot refer to the kernel's ipsets " +
                "(nft sets live inside a table, and NwFilter owns its tables). Use the ebiptables backend for this filter.");
        }
        var comment = NftProvenance.Comment(rule.Origin, CheckComment(rule.Comment, source));
        var ipv6 = rule.Layer == ProtocolLayer.IPv6;
        var family = ipv6 ? "ip6" : "ip";
        var match = new List<string>(12) { ipv6 ? "meta nfproto ipv6" : "meta nfproto ipv4" };
        if (L4Proto(rule.Protocol) is { } proto)
        {
            match.Add("meta l4proto " + proto);
        }
        var ports = rule.Protocol switch
        {
            ProtocolKind.Tcp or ProtocolKind.TcpIpv6 => "tcp",
            ProtocolKind.Udp or ProtocolKind.UdpIpv6 => "udp",
            ProtocolKind.Sctp or ProtocolKind.SctpIpv6 => "sctp",
            _ => null,
        };

        foreach (var m in rule.Matches)
        {
            switch (m.Field)
            {
                case MatchField.SourceMac: Compare(match, m.Negated, "ether saddr", Mac(m.Value)); break;
                case MatchField.SourceIp: Compare(match, m.Negated, $"{family} saddr", Network(m.Value, m.Extra)); break;
                case MatchField.DestinationIp: Compare(match, m.Negated, $"{family} daddr", Network(m.Value, m.Extra)); break;
                case MatchField.SourceIpRange: Range(match, rule, m, $"{family} saddr", ipv6); break;
                case MatchField.DestinationIpRange: Range(match, rule, m, $"{family} daddr", ipv6); break;
                case MatchField.Dscp: Compare(match, m.Negated, $"{family} dscp", Number(m.Value)); break;
                case MatchField.TcpFlags:
                    var (mask, set) = RuleAttributes.TcpFlagWords(m.Value.Text);
                    match.Add($"tcp flags & {Flags(mask)} {(m.Negated ? "!=" : "==")} {Flags(set)}");
                    break;
                case MatchField.SourcePort: Compare(match, m.Negated, $"{ports} sport", NftValues.Range(m.Value, m.Extra)); break;
                case MatchField.DestinationPort: Compare(match, m.Negated, $"{ports} dport", NftValues.Range(m.Value, m.Extra)); break;
                case MatchField.TcpOption: match.Add($"tcp option {Number(m.Value)} {(m.Negated ? "missing" : "exists")}"); break;
                case MatchField.IcmpType:
                    var icmp = rule.Protocol == ProtocolKind.Icmp ? "icmp" : "icmpv6";
                    var type = Number(m.Value);
                    if (!m.Negated)
                    {
                        match.Add(m.Extra is { } code ? $"{icmp} type {type} {icmp} code {Number(code)}" : $"{icmp} type {type}");
                    }
                    else
                    {
                        // The negation covers type and code together.
                        match.Add(m.Extra is { } code ? $"{icmp} type . {icmp} code != {{ {type} . {Number(code)} }}" : $"{icmp} type != {type}");
                    }
                    break;
                default:
                    throw new ArgumentException($"{m.Field} is not an inet match.", nameof(rule));
            }
        }
        if (rule.State is { } state)
        {
            match.Add("ct state " + state.States.ToLowerInvariant());
            if (state.Direction != ConnectionDirection.Any)
            {
                match.Add(state.Direction == ConnectionDirection.Reply ? "ct direction reply" : "ct direction original");
            }
        }
        if (rule.Connlimit is { } connlimit)
        {
            // iptables counts per source address; in a per-port chain that is the VM's own connections.
            match.Add(connlimit.Negated ? $"ct count {Number(connlimit.Above)}" : $"ct count over {Number(connlimit.Above)}");
        }
        if (rule.Ndp is { } ndp)
        {
            return NftBridgeRuleText.Ndp(match, ndp, Verdict(rule.Verdict), comment, rule);
        }
        return [new NftRule(string.Join(' ', match), Verdict(rule.Verdict), comment) { Origin = rule.Origin }];
    }

    /// <summary>CONTINUE, which iptables lacks (libvirt's command fails), is nft's continue.</summary>
    public static NftVerdict Verdict(LoweredVerdict verdict) => verdict switch
    {
        LoweredVerdict.Accept => NftVerdict.Accept,
        LoweredVerdict.Drop => NftVerdict.Drop,
        LoweredVerdict.Reject => NftVerdict.Reject,
        LoweredVerdict.Return => NftVerdict.Return,
        LoweredVerdict.Continue => NftVerdict.Continue,
        _ => throw new ArgumentOutOfRangeException(nameof(verdict)),
    };

    /// <summary>The protocol for <c>meta l4proto</c> (which, like iptables' -p, skips IPv6 extension headers); null for all.</summary>
    private static string? L4Proto(ProtocolKind kind) => kind switch
    {
        ProtocolKind.All or ProtocolKind.AllIpv6 => null,
        ProtocolKind.Icmpv6 => "ipv6-icmp",
        _ => IptablesRuleText.ProtocolName(kind),
    };

    /// <summary>An address range <c>EXPR [!=] FROM[-TO]</c>; refused when it mixes families (nft cannot match it).</summary>
    private static void Range(List<string> match, LoweredRule rule, LoweredMatch m, string expression, bool ipv6)
    {
        var start = m.Value;
        if (m.Extra is { } end && (end.Address!.AddressFamily != start.Address!.AddressFamily || ipv6 != (start.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)))
        {
            throw NftablesCodes.Unsupported(NftablesCodes.MatchUnsupported, rule.Origin.Instance.Rule, "dstipto",
                $"The address range {start.Text}-{end.Text} mixes IPv4 and IPv6 (libvirt types dstipto as IPv4 in every protocol); nft cannot match it.");
        }
        Compare(match, m.Negated, expression, m.Extra is { } last ? $"{Ip(start)}-{Ip(last)}" : Ip(start));
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
}
