using System.Globalization;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using static NwFilter.Core.Backends.Nftables.NftValues;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// Prints one lowered Ethernet-layer rule as bridge-family nft rules: the tests the ebtables rule makes, written as nft
/// expressions. The semantics (side, orientation, verdict) are <see cref="RuleLowering"/>'s. What is decided here is
/// what nft needs to test the same packets as ebtables' match modules: where those test more than their option says
/// (the ARP length and type checks, STP's "config fields only for config BPDUs"), the nft rule tests it too; masked
/// values are written masked; and what nft cannot express is refused (<see cref="NftablesCodes"/>).
/// </summary>
internal static class NftBridgeRuleText
{
    public static NftVerdict Verdict(LoweredVerdict verdict) => verdict switch
    {
        LoweredVerdict.Accept => NftVerdict.Accept,
        LoweredVerdict.Drop => NftVerdict.Drop,
        LoweredVerdict.Return => NftVerdict.Return,
        LoweredVerdict.Continue => NftVerdict.Continue,
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "There is no bridge reject (the lowering maps reject to drop)."),
    };

    /// <summary>The rules of one copy (one, or two for an STP rule with BPDU config fields).</summary>
    public static IEnumerable<NftRule> Build(LoweredRule rule)
    {
        var comment = NftProvenance.Comment(rule.Origin, CheckComment(rule.Comment, rule.Origin.Instance.Rule));
        var verdict = Verdict(rule.Verdict);
        if (rule.Protocol == ProtocolKind.Stp)
        {
            return Stp(rule, verdict, comment);
        }
        var header = rule.Protocol switch
        {
            ProtocolKind.None or ProtocolKind.Mac => null,
            ProtocolKind.Vlan => "ether type vlan",
            ProtocolKind.Arp => "ether type arp",
            ProtocolKind.Rarp => "ether type 0x8035",
            ProtocolKind.Ip => "ether type ip",
            ProtocolKind.Ipv6 => "ether type ip6",
            _ => throw new ArgumentException($"{rule.Protocol} is not an Ethernet-layer protocol.", nameof(rule)),
        };
        var match = new List<string>(12);
        var headerWritten = header is null;
        bool arpIpGuard = false, arpMacGuard = false;
        var rarp = rule.Protocol == ProtocolKind.Rarp;
        string Field(string keyword, int offset, int bits) => rarp ? $"@nh,{offset},{bits}" : keyword;
        var family = rule.Protocol == ProtocolKind.Ipv6 ? "ip6" : "ip";

        foreach (var m in rule.Matches)
        {
            if (!headerWritten && m.Field is not (MatchField.SourceMac or MatchField.DestinationMac))
            {
                match.Add(header!);
                headerWritten = true;
            }
            switch (m.Field)
            {
                case MatchField.SourceMac: MacMatch(match, m.Negated, "ether saddr", m.Value, m.Extra); break;
                case MatchField.DestinationMac: MacMatch(match, m.Negated, "ether daddr", m.Value, m.Extra); break;
                case MatchField.EtherType: Compare(match, m.Negated, "ether type", Hex16(m.Value)); break;
                case MatchField.VlanId: Compare(match, m.Negated, "vlan id", Number(m.Value)); break;
                case MatchField.VlanEncapsulation: Compare(match, m.Negated, "vlan type", Hex16(m.Value)); break;
                case MatchField.SourceIp: Compare(match, m.Negated, $"{family} saddr", Network(m.Value, m.Extra)); break;
                case MatchField.DestinationIp: Compare(match, m.Negated, $"{family} daddr", Network(m.Value, m.Extra)); break;
                // ebtables' --ip6-proto skips extension headers: meta l4proto does too, ip6 nexthdr would not.
                case MatchField.IpProtocol: Compare(match, m.Negated, family == "ip6" ? "meta l4proto" : "ip protocol", Number(m.Value)); break;
                // ebtables reads ports only with a transport protocol given, and never in a later fragment: th does the same.
                case MatchField.SourcePort: Compare(match, m.Negated, "th sport", Range(m.Value, m.Extra)); break;
                case MatchField.DestinationPort: Compare(match, m.Negated, "th dport", Range(m.Value, m.Extra)); break;
                case MatchField.TosByte: Compare(match, m.Negated, "@nh,8,8", "0x" + m.Value.Number.ToString("x2", CultureInfo.InvariantCulture)); break;
                case MatchField.ArpHardwareType: Compare(match, m.Negated, Field("arp htype", 0, 16), Number(m.Value)); break;
                case MatchField.ArpOpcode: Compare(match, m.Negated, Field("arp operation", 48, 16), Number(m.Value)); break;
                case MatchField.ArpProtocolType: Compare(match, m.Negated, Field("arp ptype", 16, 16), Hex16(m.Value)); break;
                case MatchField.ArpGratuitous:
                    throw NftablesCodes.Unsupported(NftablesCodes.MatchUnsupported, rule.Origin.Instance.Rule, "gratuitous",
                        "gratuitous='true' compares the ARP sender and target addresses with each other, which nft 1.0.6 cannot express. " +
                        "Use the ebiptables backend for this filter.");
                case MatchField.ArpSourceIp or MatchField.ArpDestinationIp:
                    if (!arpIpGuard)
                    {
                        // ebt_arp tests IP fields only of IPv4-over-ARP with 4-byte addresses.
                        match.Add(rarp ? "@nh,16,16 0x0800 @nh,40,8 4" : "arp ptype 0x0800 arp plen 4");
                        arpIpGuard = true;
                    }
                    var ipField = m.Field == MatchField.ArpSourceIp ? Field("arp saddr ip", 112, 32) : Field("arp daddr ip", 192, 32);
                    if (rarp)
                    {
                        RawCompare(match, m.Negated, ipField, Ipv4Integer(m.Value, m.Extra, out var maskInteger), maskInteger);
                    }
                    else
                    {
                        Compare(match, m.Negated, ipField, Network(m.Value, m.Extra));
                    }
                    break;
                case MatchField.ArpSourceMac or MatchField.ArpDestinationMac:
                    if (!arpMacGuard)
                    {
                        // ebt_arp tests MAC fields only of Ethernet ARP with 6-byte addresses.
                        match.Add(rarp ? "@nh,0,16 1 @nh,32,8 6" : "arp htype 1 arp hlen 6");
                        arpMacGuard = true;
                    }
                    var macField = m.Field == MatchField.ArpSourceMac ? Field("arp saddr ether", 64, 48) : Field("arp daddr ether", 144, 48);
                    if (rarp)
                    {
                        RawCompare(match, m.Negated, macField, MacInteger(m.Value, null, out _), null);
                    }
                    else
                    {
                        Compare(match, m.Negated, macField, Mac(m.Value));
                    }
                    break;
                default:
                    throw new ArgumentException($"{m.Field} is not a bridge match.", nameof(rule));
            }
        }
        if (!headerWritten)
        {
            match.Add(header!);
        }
        if (rule.Icmpv6 is { } icmp)
        {
            // The negation covers type and code together, which nft writes as a concatenated set lookup.
            string types = Span(icmp.TypeLow, icmp.TypeHigh), codes = Span(icmp.CodeLow, icmp.CodeHigh);
            match.Add(icmp.Negated
                ? $"icmpv6 type . icmpv6 code != {{ {types} . {codes} }}"
                : $"icmpv6 type {types} icmpv6 code {codes}");
        }
        if (rule.Ndp is { } ndp)
        {
            return Ndp(match, ndp, verdict, comment, rule);
        }
        return [new NftRule(string.Join(' ', match), verdict, comment) { Origin = rule.Origin }];
    }

    /// <summary>
    /// NwFilter's NDP fields as raw transport-header payload: the target at ICMPv6 byte 8 (<c>@th,64,128</c>); the
    /// link-layer address option, read at the message's first option, as three rules with one verdict: no option
    /// (<c>ip6 length</c> is the message alone), one 8-byte option of this message's link-layer type carrying the MAC, or
    /// one 8-byte option of another type. A message with more options (or extension headers) matches none of them.
    /// The inet family's layer-3 <c>icmpv6</c> copies use the same tests (<see cref="NftInetRuleText"/>).
    /// </summary>
    internal static List<NftRule> Ndp(List<string> match, NdpMatch ndp, NftVerdict verdict, string comment, LoweredRule rule)
    {
        if (ndp.Target is { } target)
        {
            match.Add($"@th,64,128 0x{Convert.ToHexString(target.Address!.GetAddressBytes()).ToLowerInvariant()}");
        }
        var head = string.Join(' ', match);
        if (ndp.LinkLayerAddress is not { } lladdr)
        {
            return [new NftRule(head, verdict, comment) { Origin = rule.Origin }];
        }
        int options = ndp.OptionsOffset, bit = options * 8;
        var mac = Convert.ToHexString(lladdr.Mac!.GetAddressBytes()).ToLowerInvariant();
        var type = ndp.LinkLayerOptionType;
        return
        [
            new NftRule($"{head} ip6 length {options}", verdict, comment) { Origin = rule.Origin },
            new NftRule($"{head} ip6 length {options + 8} @th,{bit},16 0x{type:x2}01 @th,{bit + 16},48 0x{mac}", verdict, comment) { Origin = rule.Origin },
            new NftRule($"{head} ip6 length {options + 8} @th,{bit},8 != {type}", verdict, comment) { Origin = rule.Origin },
        ];
    }

    private static string Span(ulong low, ulong high) => low == high ? $"{low}" : $"{low}-{high}";

    /// <summary><c>@nh,O,L [!=] V</c>, or with a mask <c>@nh,O,L &amp; M ==|!= V</c>.</summary>
    private static void RawCompare(List<string> match, bool negated, string field, string value, string? mask) =>
        match.Add(mask is null
            ? (negated ? $"{field} != {value}" : $"{field} {value}")
            : $"{field} & {mask} {(negated ? "!=" : "==")} {value}");

    /// <summary>
    /// STP (ebt_stp): frames to the STP group address with the 802.2 header 42 42 03; BPDU type at byte 6. The config
    /// fields are tested only when the BPDU is a config BPDU (type 0): any other BPDU matches without them. One nft rule
    /// cannot say "type != 0 or fields", so such a rule becomes two with the same verdict.
    /// </summary>
    private static List<NftRule> Stp(LoweredRule rule, NftVerdict verdict, string comment)
    {
        var match = new List<string>(8);
        var config = new List<string>();
        LoweredMatch? type = null;
        var headerWritten = false;
        foreach (var m in rule.Matches)
        {
            if (!headerWritten && m.Field is not (MatchField.SourceMac or MatchField.DestinationMac))
            {
                match.Add($"ether daddr {ChainNames.StpGroupAddress} @nh,0,24 0x424203");
                headerWritten = true;
            }
            switch (m.Field)
            {
                case MatchField.SourceMac: MacMatch(match, m.Negated, "ether saddr", m.Value, m.Extra); break;
                case MatchField.DestinationMac: MacMatch(match, m.Negated, "ether daddr", m.Value, m.Extra); break;
                case MatchField.StpType:
                    type = m;
                    Compare(match, m.Negated, "@nh,48,8", Number(m.Value));
                    break;
                case MatchField.StpFlags: StpItem(config, m, 56, 8); break;
                case MatchField.StpRootPriority: StpItem(config, m, 64, 16); break;
                case MatchField.StpRootAddress: StpAddress(config, m, 80); break;
                case MatchField.StpRootCost: StpItem(config, m, 128, 32); break;
                case MatchField.StpSenderPriority: StpItem(config, m, 160, 16); break;
                case MatchField.StpSenderAddress: StpAddress(config, m, 176); break;
                case MatchField.StpPort: StpItem(config, m, 224, 16); break;
                case MatchField.StpMessageAge: StpItem(config, m, 240, 16); break;
                case MatchField.StpMaxAge: StpItem(config, m, 256, 16); break;
                case MatchField.StpHelloTime: StpItem(config, m, 272, 16); break;
                case MatchField.StpForwardDelay: StpItem(config, m, 288, 16); break;
                default:
                    throw new ArgumentException($"{m.Field} is not an STP match.", nameof(rule));
            }
        }
        if (!headerWritten)
        {
            match.Add($"ether daddr {ChainNames.StpGroupAddress} @nh,0,24 0x424203");
        }

        var head = string.Join(' ', match);
        if (config.Count == 0)
        {
            return [new NftRule(head, verdict, comment) { Origin = rule.Origin }];
        }
        var typePinned = type is not null && !type.Negated;
        var rules = new List<NftRule>(2);
        if (!typePinned || type!.Value.Number != 0)
        {
            rules.Add(new NftRule(typePinned ? head : head + " @nh,48,8 != 0", verdict, comment) { Origin = rule.Origin });
        }
        if (!typePinned || type!.Value.Number == 0)
        {
            rules.Add(new NftRule((typePinned ? head : head + " @nh,48,8 0") + " " + string.Join(' ', config), verdict, comment) { Origin = rule.Origin });
        }
        return rules;
    }

    private static void StpItem(List<string> match, LoweredMatch m, int offset, int bits) =>
        Compare(match, m.Negated, $"@nh,{offset},{bits}", Range(m.Value, m.Extra));

    private static void StpAddress(List<string> match, LoweredMatch m, int offset) =>
        RawCompare(match, m.Negated, $"@nh,{offset},48", MacInteger(m.Value, m.Extra, out var maskInteger), maskInteger);
}
