using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Model;
using static NwFilter.Core.Backends.EbIpTables.RuleValues;
using static NwFilter.Core.Backends.Nftables.NftValues;
using static NwFilter.Core.Model.AttributeId;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// The bridge-family rule of one Ethernet-level rule copy: the same tests the ebtables rule makes (SEMANTICS.md 6.4),
/// written as nft expressions. A reversed copy (the from-VM copy of an inout rule) swaps source and destination.
/// Where ebtables' match module tests more than its option says (the ARP length and type checks, STP's "config
/// fields only for config BPDUs"), the nft rule tests it too.
/// </summary>
internal static class NftBridgeRuleText
{
    /// <summary>The ebtables target as an nft verdict: reject becomes drop (there is no bridge reject here).</summary>
    public static NftVerdict Verdict(RuleAction action) => action switch
    {
        RuleAction.Accept => NftVerdict.Accept,
        RuleAction.Drop or RuleAction.Reject => NftVerdict.Drop,
        RuleAction.Return => NftVerdict.Return,
        RuleAction.Continue => NftVerdict.Continue,
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };

    /// <summary>The rules of one copy (one, or two for an STP rule with BPDU config fields).</summary>
    public static IEnumerable<NftRule> Build(FilterRule rule, bool reverse)
    {
        var match = new List<string>(12);
        var comment = Comment(rule);
        var verdict = Verdict(rule.Action);
        switch (rule.Protocol)
        {
            case ProtocolKind.None:
                break;
            case ProtocolKind.Mac:
                EthHeader(match, rule, reverse);
                if (Get(rule, ProtocolId) is { } protocolId)
                {
                    Compare(match, rule, ProtocolId, "ether type", Hex16(protocolId));
                }
                break;
            case ProtocolKind.Vlan:
                EthHeader(match, rule, reverse);
                match.Add("ether type vlan");
                Item(match, rule, VlanId, "vlan id");
                if (Get(rule, EncapProtocol) is { } encap)
                {
                    Compare(match, rule, EncapProtocol, "vlan type", Hex16(encap));
                }
                break;
            case ProtocolKind.Stp:
                return Stp(rule, reverse, match, verdict, comment);
            case ProtocolKind.Arp or ProtocolKind.Rarp:
                Arp(match, rule, reverse);
                break;
            case ProtocolKind.Ip:
                EthHeader(match, rule, reverse);
                match.Add("ether type ip");
                Addresses(match, rule, reverse, "ip");
                Item(match, rule, IpProtocol, "ip protocol");
                Ports(match, rule, reverse);
                if (Get(rule, Dscp) is { } dscp)
                {
                    // libvirt's quirk, kept: the DSCP value goes unshifted into ebtables' whole-TOS-byte test.
                    Compare(match, rule, Dscp, "@nh,8,8", "0x" + dscp.Number.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                }
                break;
            case ProtocolKind.Ipv6:
                EthHeader(match, rule, reverse);
                match.Add("ether type ip6");
                Addresses(match, rule, reverse, "ip6");
                // ebtables' --ip6-proto skips extension headers: meta l4proto does too, ip6 nexthdr would not.
                Item(match, rule, IpProtocol, "meta l4proto");
                Ports(match, rule, reverse);
                Icmpv6(match, rule);
                break;
            default:
                throw new ArgumentException($"{rule.Protocol} is not an Ethernet-layer protocol.", nameof(rule));
        }
        return [new NftRule(string.Join(' ', match), verdict, comment)];
    }

    private static void EthHeader(List<string> match, FilterRule rule, bool reverse)
    {
        if (Get(rule, SrcMacAddr) is { } src)
        {
            MacMatch(match, rule, SrcMacAddr, reverse ? "ether daddr" : "ether saddr", src, Get(rule, SrcMacMask));
        }
        if (Get(rule, DstMacAddr) is { } dst)
        {
            MacMatch(match, rule, DstMacAddr, reverse ? "ether saddr" : "ether daddr", dst, Get(rule, DstMacMask));
        }
    }

    private static void Addresses(List<string> match, FilterRule rule, bool reverse, string family)
    {
        if (Get(rule, SrcIpAddr) is { } src)
        {
            Compare(match, rule, SrcIpAddr, reverse ? $"{family} daddr" : $"{family} saddr", Network(src, Get(rule, SrcIpMask)));
        }
        if (Get(rule, DstIpAddr) is { } dst)
        {
            Compare(match, rule, DstIpAddr, reverse ? $"{family} saddr" : $"{family} daddr", Network(dst, Get(rule, DstIpMask)));
        }
    }

    /// <summary>ebtables reads ports only with a TCP/UDP/SCTP/... protocol given, and never in a later fragment: th does the same.</summary>
    private static void Ports(List<string> match, FilterRule rule, bool reverse)
    {
        if (Get(rule, SrcPortStart) is { } srcLow)
        {
            Compare(match, rule, SrcPortStart, reverse ? "th dport" : "th sport", Range(srcLow, Get(rule, SrcPortEnd)));
        }
        if (Get(rule, DstPortStart) is { } dstLow)
        {
            Compare(match, rule, DstPortStart, reverse ? "th sport" : "th dport", Range(dstLow, Get(rule, DstPortEnd)));
        }
    }

    /// <summary>
    /// <c>--ip6-icmp-type [!] T1:T2/C1:C2</c>: a missing start is 0, a missing end the start (or 255). The negation
    /// covers type and code together, which nft writes as a concatenated set lookup.
    /// </summary>
    private static void Icmpv6(List<string> match, FilterRule rule)
    {
        TypedValue? type = Get(rule, AttributeId.Type), typeEnd = Get(rule, TypeEnd), code = Get(rule, Code), codeEnd = Get(rule, CodeEnd);
        if (type is null && typeEnd is null && code is null && codeEnd is null)
        {
            return;
        }
        static string Span(TypedValue? lo, TypedValue? hi)
        {
            var start = lo?.Number ?? 0;
            var end = hi?.Number ?? (lo is not null ? start : 255);
            return start == end ? $"{start}" : $"{start}-{end}";
        }
        string types = Span(type, typeEnd), codes = Span(code, codeEnd);
        match.Add(Negated(rule, AttributeId.Type)
            ? $"icmpv6 type . icmpv6 code != {{ {types} . {codes} }}"
            : $"icmpv6 type {types} icmpv6 code {codes}");
    }

    /// <summary><c>EXPR [!=] N</c> in decimal.</summary>
    private static void Item(List<string> match, FilterRule rule, AttributeId id, string expression)
    {
        if (Get(rule, id) is { } value)
        {
            Compare(match, rule, id, expression, Number(value));
        }
    }

    /// <summary>
    /// ARP and RARP, with ebt_arp's own checks: an IP test needs protocol type IPv4 and 4-byte addresses, a MAC test
    /// hardware type Ethernet and 6-byte addresses. RARP has no nft keywords (they imply ether type arp): raw offsets.
    /// </summary>
    private static void Arp(List<string> match, FilterRule rule, bool reverse)
    {
        EthHeader(match, rule, reverse);
        var rarp = rule.Protocol == ProtocolKind.Rarp;
        match.Add(rarp ? "ether type 0x8035" : "ether type arp");
        string Field(string keyword, int offset, int bits) => rarp ? $"@nh,{offset},{bits}" : keyword;

        if (Get(rule, HwType) is { } htype)
        {
            Compare(match, rule, HwType, Field("arp htype", 0, 16), Number(htype));
        }
        if (Get(rule, Opcode) is { } opcode)
        {
            Compare(match, rule, Opcode, Field("arp operation", 48, 16), Number(opcode));
        }
        if (Get(rule, ProtocolType) is { } ptype)
        {
            Compare(match, rule, ProtocolType, Field("arp ptype", 16, 16), Hex16(ptype));
        }
        if (Get(rule, Gratuitous) is { Number: not 0 })
        {
            throw NftablesCodes.Unsupported(NftablesCodes.MatchUnsupported, rule, "gratuitous",
                "gratuitous='true' compares the ARP sender and target addresses with each other, which nft 1.0.6 cannot express. " +
                "Use the ebiptables backend for this filter.");
        }

        // The mask defaults to 32; a destination without its own mask reuses the source's (libvirt's quirk).
        TypedValue? srcIp = Get(rule, ArpSrcIpAddr), dstIp = Get(rule, ArpDstIpAddr);
        TypedValue? srcMask = Get(rule, ArpSrcIpMask), dstMask = Get(rule, ArpDstIpMask) ?? srcMask;
        if (srcIp is not null || dstIp is not null)
        {
            match.Add(rarp ? "@nh,16,16 0x0800 @nh,40,8 4" : "arp ptype 0x0800 arp plen 4");
        }
        if (srcIp is not null)
        {
            ArpIp(match, rule, ArpSrcIpAddr, reverse ? Field("arp daddr ip", 192, 32) : Field("arp saddr ip", 112, 32), srcIp, srcMask, rarp);
        }
        if (dstIp is not null)
        {
            ArpIp(match, rule, ArpDstIpAddr, reverse ? Field("arp saddr ip", 112, 32) : Field("arp daddr ip", 192, 32), dstIp, dstMask, rarp);
        }

        TypedValue? srcMac = Get(rule, ArpSrcMacAddr), dstMac = Get(rule, ArpDstMacAddr);
        if (srcMac is not null || dstMac is not null)
        {
            match.Add(rarp ? "@nh,0,16 1 @nh,32,8 6" : "arp htype 1 arp hlen 6");
        }
        if (srcMac is not null)
        {
            ArpMac(match, rule, ArpSrcMacAddr, reverse ? Field("arp daddr ether", 144, 48) : Field("arp saddr ether", 64, 48), srcMac, rarp);
        }
        if (dstMac is not null)
        {
            ArpMac(match, rule, ArpDstMacAddr, reverse ? Field("arp saddr ether", 64, 48) : Field("arp daddr ether", 144, 48), dstMac, rarp);
        }
    }

    private static void ArpIp(List<string> match, FilterRule rule, AttributeId id, string field, TypedValue address, TypedValue? mask, bool raw)
    {
        if (!raw)
        {
            Compare(match, rule, id, field, Network(address, mask));
            return;
        }
        var value = Ipv4Integer(address, mask, out var maskInteger);
        RawCompare(match, rule, id, field, value, maskInteger);
    }

    private static void ArpMac(List<string> match, FilterRule rule, AttributeId id, string field, TypedValue mac, bool raw)
    {
        if (raw)
        {
            RawCompare(match, rule, id, field, MacInteger(mac, null, out _), null);
        }
        else
        {
            Compare(match, rule, id, field, Mac(mac));
        }
    }

    /// <summary><c>@nh,O,L [!=] V</c>, or with a mask <c>@nh,O,L &amp; M ==|!= V</c>.</summary>
    private static void RawCompare(List<string> match, FilterRule rule, AttributeId id, string field, string value, string? mask)
    {
        var negated = Negated(rule, id);
        match.Add(mask is null
            ? (negated ? $"{field} != {value}" : $"{field} {value}")
            : $"{field} & {mask} {(negated ? "!=" : "==")} {value}");
    }

    /// <summary>
    /// STP (ebt_stp): frames to the STP group address with the 802.2 header 42 42 03; BPDU type at byte 6. The config
    /// fields are tested only when the BPDU is a config BPDU (type 0): any other BPDU matches without them. One nft rule
    /// cannot say "type != 0 or fields", so such a rule becomes two with the same verdict.
    /// </summary>
    private static IEnumerable<NftRule> Stp(FilterRule rule, bool reverse, List<string> match, NftVerdict verdict, string? comment)
    {
        if (reverse && Has(rule, SrcMacAddr))
        {
            // The same refusal (and diagnostic) as the ebtables backend.
            _ = EbtablesRuleText.Build(rule, "x", reverse);
        }
        EthHeader(match, rule, reverse);
        match.Add($"ether daddr {ChainNames.StpGroupAddress} @nh,0,24 0x424203");
        var type = Get(rule, StpType);
        if (type is not null)
        {
            Compare(match, rule, StpType, "@nh,48,8", Number(type));
        }

        var config = new List<string>();
        StpItem(config, rule, StpFlags, null, 56, 8);
        StpItem(config, rule, RootPriority, RootPriorityHi, 64, 16);
        StpAddress(config, rule, RootAddress, RootAddressMask, 80);
        StpItem(config, rule, RootCost, RootCostHi, 128, 32);
        StpItem(config, rule, SenderPriority, SenderPriorityHi, 160, 16);
        StpAddress(config, rule, SenderAddress, SenderAddressMask, 176);
        StpItem(config, rule, Port, PortHi, 224, 16);
        StpItem(config, rule, Age, AgeHi, 240, 16);
        StpItem(config, rule, MaxAge, MaxAgeHi, 256, 16);
        StpItem(config, rule, HelloTime, HelloTimeHi, 272, 16);
        StpItem(config, rule, ForwardDelay, ForwardDelayHi, 288, 16);

        var head = string.Join(' ', match);
        if (config.Count == 0)
        {
            return [new NftRule(head, verdict, comment)];
        }
        var typePinned = type is not null && !Negated(rule, StpType);
        var rules = new List<NftRule>(2);
        if (!typePinned || type!.Number != 0)
        {
            rules.Add(new NftRule(typePinned ? head : head + " @nh,48,8 != 0", verdict, comment));
        }
        if (!typePinned || type!.Number == 0)
        {
            rules.Add(new NftRule((typePinned ? head : head + " @nh,48,8 0") + " " + string.Join(' ', config), verdict, comment));
        }
        return rules;
    }

    private static void StpItem(List<string> match, FilterRule rule, AttributeId low, AttributeId? high, int offset, int bits)
    {
        if (Get(rule, low) is { } value)
        {
            Compare(match, rule, low, $"@nh,{offset},{bits}", Range(value, high is { } h ? Get(rule, h) : null));
        }
    }

    private static void StpAddress(List<string> match, FilterRule rule, AttributeId address, AttributeId mask, int offset)
    {
        if (Get(rule, address) is { } mac)
        {
            RawCompare(match, rule, address, $"@nh,{offset},48", MacInteger(mac, Get(rule, mask), out var maskInteger), maskInteger);
        }
    }
}
