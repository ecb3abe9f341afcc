using System.Globalization;
using System.Text.RegularExpressions;

namespace NwFilter.Core.Tests.TestSupport.Parity;

/// <summary>
/// Reads the <c>add rule</c> lines of an nft script (what reaches <c>nft -f</c>) into <see cref="StructuralRule"/>s, by
/// the text alone, without the production writers. An expression it does not know fails the parse. Rules of the base
/// chains (the verdict-map dispatch) are not rules of a port; the port's mark rules (<c>meta mark set</c>,
/// docs/design/nftables.md, section 2) have no xtables counterpart and are left out; comments match nothing.
/// </summary>
internal static partial class NftRuleParser
{
    [GeneratedRegex(@"\s*comment\s+""[^""]*""")]
    private static partial Regex CommentPattern();

    [GeneratedRegex(@"^add rule (bridge|inet) nwfilter (\S+) (.*)$")]
    private static partial Regex RulePattern();

    /// <summary>The port's rules in <paramref name="script"/>, per chain in order.</summary>
    public static Dictionary<string, List<StructuralRule>> Rules(string script)
    {
        var result = new Dictionary<string, List<StructuralRule>>(StringComparer.Ordinal);
        foreach (var line in script.Split('\n'))
        {
            var m = RulePattern().Match(line.TrimEnd('\r'));
            if (!m.Success)
            {
                continue;
            }
            var chain = m.Groups[2].Value.Split('/');
            if (chain.Length != 4)
            {
                continue; // a base chain: prerouting, forward, postrouting, input (the dispatch)
            }
            var rule = Parse(m.Groups[1].Value, Unescape(chain[3]), m.Groups[3].Value);
            if (rule is null)
            {
                continue;
            }
            if (!result.TryGetValue(rule.Chain, out var list))
            {
                result[rule.Chain] = list = [];
            }
            list.Add(rule);
        }
        return result;
    }

    /// <summary>A chain-name part as written: <c>__</c> is <c>_</c>, <c>_xx</c> the byte xx (docs/design/nftables.md, section 2).</summary>
    private static string Unescape(string name)
    {
        var output = new System.Text.StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (name[i] != '_')
            {
                output.Append(name[i]);
            }
            else if (name[i + 1] == '_')
            {
                output.Append('_');
                i++;
            }
            else
            {
                output.Append((char)byte.Parse(name.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                i += 2;
            }
        }
        return output.ToString();
    }

    /// <summary>One rule, or null for the port's mark rules.</summary>
    internal static StructuralRule? Parse(string family, string role, string text)
    {
        text = CommentPattern().Replace(text, "");
        if (text.Contains("meta mark set", StringComparison.Ordinal))
        {
            return null;
        }
        var tokens = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        string verdict;
        if (tokens.Count >= 2 && tokens[^2] is "jump" or "goto")
        {
            verdict = "jump " + Unescape(tokens[^1].Split('/')[^1]);
            tokens.RemoveRange(tokens.Count - 2, 2);
        }
        else if (tokens.Count >= 1 && tokens[^1] is "accept" or "drop" or "reject" or "return" or "continue")
        {
            verdict = tokens[^1];
            tokens.RemoveAt(tokens.Count - 1);
        }
        else
        {
            throw new FormatException($"nft rule '{text}' in {role}: no verdict");
        }

        var matches = new List<FieldMatch>();
        string? nfproto = null;
        var i = 0;
        string Next() => i < tokens.Count ? tokens[i++] : throw new FormatException($"nft rule '{text}': ends after '{tokens[^1]}'");
        bool Peek(string token) => i < tokens.Count && tokens[i] == token;

        // [!=|==] VALUE, where a value may be a { set } or a ( group ).
        (bool Negated, string Value) Operand()
        {
            var negated = false;
            if (Peek("!="))
            {
                negated = true;
                i++;
            }
            else if (Peek("=="))
            {
                i++;
            }
            var value = Next();
            if (value is "{" or "(")
            {
                var close = value == "{" ? "}" : ")";
                var parts = new List<string>();
                while (!Peek(close))
                {
                    parts.Add(Next());
                }
                i++;
                value = string.Join(" ", parts);
            }
            else if (value.StartsWith('('))
            {
                var parts = new List<string> { value };
                while (!parts[^1].EndsWith(')'))
                {
                    parts.Add(Next());
                }
                value = string.Join(" ", parts).Trim('(', ')');
            }
            return (negated, value);
        }

        void Add(string field, Func<string, string> canonical)
        {
            var (negated, value) = Operand();
            matches.Add(new FieldMatch(field, negated, canonical(value)));
        }

        while (i < tokens.Count)
        {
            var word = Next();
            var what = word.StartsWith("@nh,", StringComparison.Ordinal) ? word : word + " " + Next();
            switch (what)
            {
                case "meta nfproto":
                    nfproto = Next();
                    break;
                case "meta l4proto" or "ip protocol":
                    Add("l4proto", v => Canonical.Protocol(v)!);
                    break;
                case "ether saddr" or "ether daddr":
                    var field = "ether." + what[6..];
                    if (Peek("and"))
                    {
                        i++;
                        var mask = Next();
                        var (negated, value) = Operand();
                        matches.Add(new FieldMatch(field, negated, Canonical.Mac(value, mask)));
                    }
                    else
                    {
                        Add(field, v => Canonical.Mac(v));
                    }
                    break;
                case "ether type":
                    Add("ether.type", EtherType);
                    break;
                case "vlan id":
                    Add("vlan.id", Canonical.Decimal);
                    break;
                case "vlan type":
                    Add("vlan.type", EtherType);
                    break;
                case "ip saddr" or "ip daddr" or "ip6 saddr" or "ip6 daddr":
                    Add(what.Replace(' ', '.'), Canonical.Network);
                    break;
                case "ip dscp" or "ip6 dscp":
                    Add("dscp", Canonical.Decimal);
                    break;
                case "th sport" or "tcp sport" or "udp sport" or "udplite sport" or "sctp sport":
                    Add("l4.sport", Canonical.Range);
                    break;
                case "th dport" or "tcp dport" or "udp dport" or "udplite dport" or "sctp dport":
                    Add("l4.dport", Canonical.Range);
                    break;
                case "tcp flags":
                    if (Next() != "&")
                    {
                        throw new FormatException($"nft rule '{text}': tcp flags without a mask");
                    }
                    var (_, flagMask) = Operand();
                    var (flagsNegated, flagSet) = Operand();
                    matches.Add(new FieldMatch("tcp.flags", flagsNegated, Flags(flagMask) + "=" + Flags(flagSet)));
                    break;
                case "tcp option":
                    Add("tcp.option", Canonical.Decimal);
                    break;
                case "icmp type" or "icmpv6 type":
                    if (Peek("."))
                    {
                        // TYPE . CODE != { T . C }: the pair negated as one, as ebtables and iptables negate it
                        i += 3;
                        var (pairNegated, pair) = Operand();
                        var halves = pair.Split(" . ");
                        matches.Add(new FieldMatch("icmp.type.code", pairNegated, Canonical.Range(halves[0]) + "." + Canonical.Range(halves[1])));
                    }
                    else
                    {
                        Add("icmp.type", Canonical.Range);
                    }
                    break;
                case "icmp code" or "icmpv6 code":
                    Add("icmp.code", Canonical.Range);
                    break;
                case "ct state":
                    Add("ct.state", Canonical.States);
                    break;
                case "ct direction":
                    Add("ct.direction", v => v);
                    break;
                case "ct count":
                    var over = Peek("over") ? "over " : "";
                    i += over.Length > 0 ? 1 : 0;
                    Add("ct.count", v => over + Canonical.Decimal(v));
                    break;
                case "arp htype":
                    Add("arp.htype", Canonical.Decimal);
                    break;
                case "arp hlen":
                    Add("arp.hlen", Canonical.Decimal);
                    break;
                case "arp ptype":
                    Add("arp.ptype", Canonical.Hex16);
                    break;
                case "arp plen":
                    Add("arp.plen", Canonical.Decimal);
                    break;
                case "arp operation":
                    Add("arp.opcode", Canonical.Decimal);
                    break;
                case "arp saddr" or "arp daddr":
                    var kind = Next();
                    var arpField = (what == "arp saddr" ? "arp.s" : "arp.t") + (kind == "ether" ? "ha" : "pa");
                    Add(arpField, kind == "ether" ? v => Canonical.Mac(v) : Canonical.Network);
                    break;
                case var raw when raw.StartsWith("@nh,", StringComparison.Ordinal):
                    var (rawNegated, rawValue) = Operand();
                    matches.Add(RawField(raw, rawNegated, rawValue, matches, text));
                    break;
                default:
                    throw new FormatException($"nft rule '{text}': unknown expression '{what}'");
            }
        }

        var chain = family == "bridge" ? role
            : role + " " + (nfproto ?? throw new FormatException($"nft rule '{text}' in {role}: no meta nfproto"));
        return StructuralRule.Create(chain, Guards(matches).Select(m => m.ToString()), verdict);
    }

    /// <summary>
    /// Raw network-header payload: by the rule's context, RARP fields (nft's <c>arp</c> keywords imply ether type arp),
    /// STP (after the 802.2 header, which the rule tests first) or the IPv4 TOS byte (libvirt's DSCP quirk).
    /// </summary>
    private static FieldMatch RawField(string raw, bool negated, string value, List<FieldMatch> before, string text)
    {
        var stp = before.Any(m => m.Field == "stp.llc");
        var etherType = before.LastOrDefault(m => m.Field == "ether.type").Value;
        (string Field, string Value)? field = (raw, stp, etherType) switch
        {
            ("@nh,0,24", _, _) when value == "0x424203" => ("stp.llc", value),
            ("@nh,48,8", true, _) => ("stp.type", Canonical.Decimal(value)),
            ("@nh,56,8", true, _) => ("stp.flags", Canonical.Decimal(value)),
            ("@nh,64,16", true, _) => ("stp.root-prio", Canonical.Range(value)),
            ("@nh,80,48", true, _) => ("stp.root-addr", Canonical.MacFromHex(value)),
            ("@nh,128,32", true, _) => ("stp.root-cost", Canonical.Range(value)),
            ("@nh,160,16", true, _) => ("stp.sender-prio", Canonical.Range(value)),
            ("@nh,176,48", true, _) => ("stp.sender-addr", Canonical.MacFromHex(value)),
            ("@nh,224,16", true, _) => ("stp.port", Canonical.Range(value)),
            ("@nh,240,16", true, _) => ("stp.msg-age", Canonical.Range(value)),
            ("@nh,256,16", true, _) => ("stp.max-age", Canonical.Range(value)),
            ("@nh,272,16", true, _) => ("stp.hello-time", Canonical.Range(value)),
            ("@nh,288,16", true, _) => ("stp.forward-delay", Canonical.Range(value)),
            ("@nh,0,16", _, "0x8035") => ("arp.htype", Canonical.Decimal(value)),
            ("@nh,16,16", _, "0x8035") => ("arp.ptype", Canonical.Hex16(value)),
            ("@nh,32,8", _, "0x8035") => ("arp.hlen", Canonical.Decimal(value)),
            ("@nh,40,8", _, "0x8035") => ("arp.plen", Canonical.Decimal(value)),
            ("@nh,48,16", _, "0x8035") => ("arp.opcode", Canonical.Decimal(value)),
            ("@nh,64,48", _, "0x8035") => ("arp.sha", Canonical.MacFromHex(value)),
            ("@nh,112,32", _, "0x8035") => ("arp.spa", Canonical.Ipv4FromNumber(value)),
            ("@nh,144,48", _, "0x8035") => ("arp.tha", Canonical.MacFromHex(value)),
            ("@nh,192,32", _, "0x8035") => ("arp.tpa", Canonical.Ipv4FromNumber(value)),
            ("@nh,8,8", _, "0x0800") => ("ip.tos", Canonical.Hex8(value)),
            _ => null,
        };
        return field is { } f
            ? new FieldMatch(f.Field, negated, f.Value)
            : throw new FormatException($"nft rule '{text}': unknown raw field {raw}");
    }

    /// <summary>
    /// The ebt_arp tests the nft rules spell out (hardware type 1 then length 6; protocol type 0x0800 then length 4, one
    /// pair after the other) as the guards <see cref="XtablesRuleParser"/> derives from the fields.
    /// </summary>
    private static List<FieldMatch> Guards(List<FieldMatch> matches)
    {
        var output = new List<FieldMatch>();
        for (var i = 0; i < matches.Count; i++)
        {
            var pair = i + 1 < matches.Count ? (matches[i].ToString(), matches[i + 1].ToString()) : default;
            if (pair == ("arp.htype=1", "arp.hlen=6"))
            {
                output.Add(new FieldMatch("arp.guard", false, "htype 1 hlen 6"));
                i++;
            }
            else if (pair == ("arp.ptype=0x0800", "arp.plen=4"))
            {
                output.Add(new FieldMatch("arp.guard", false, "ptype 0x0800 plen 4"));
                i++;
            }
            else
            {
                output.Add(matches[i]);
            }
        }
        return output;
    }

    private static string Flags(string text) => Canonical.TcpFlags(text.Split('|', StringSplitOptions.TrimEntries));

    private static string EtherType(string text) => text switch
    {
        "ip" => "0x0800",
        "ip6" => "0x86dd",
        "arp" => "0x0806",
        "vlan" => "0x8100",
        _ => Canonical.Hex16(text),
    };
}
