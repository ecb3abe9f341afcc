using System.Text;

namespace NwFilter.Core.Tests.TestSupport.Parity;

/// <summary>
/// Reads ebtables/iptables/ip6tables <c>-A</c> commands (libvirt's expected <c>*-linux.args</c>, or a dry run's recorded
/// commands) into <see cref="StructuralRule"/>s by their options alone, without the production writers. An option it
/// does not know fails the parse (nothing is silently skipped); chain management (<c>-N -F -X -L -D</c>), comments and
/// the hook-to-root jumps (which nft does with verdict maps) are not rules of a port.
/// </summary>
internal static class XtablesRuleParser
{
    /// <summary>The commands of a <c>*-linux.args</c> file: lines ending in <c> \</c> continue; shell quoting removed.</summary>
    public static List<(string Program, List<string> Arguments)> ReadArgsFile(string text)
    {
        var commands = new List<(string, List<string>)>();
        var current = new StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            if (line.EndsWith(" \\", StringComparison.Ordinal))
            {
                current.Append(line.AsSpan(0, line.Length - 2)).Append(' ');
                continue;
            }
            current.Append(line);
            var tokens = ShellWords(current.ToString());
            current.Clear();
            if (tokens.Count > 0)
            {
                commands.Add((tokens[0], tokens.Skip(1).ToList()));
            }
        }
        return commands;
    }

    /// <summary>POSIX shell word splitting with single quotes, double quotes and backslash escapes.</summary>
    internal static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            switch (c)
            {
                case ' ' or '\t':
                    if (inWord)
                    {
                        words.Add(word.ToString());
                        word.Clear();
                        inWord = false;
                    }
                    break;
                case '\'':
                    var end = line.IndexOf('\'', i + 1);
                    word.Append(line, i + 1, end - i - 1);
                    i = end;
                    inWord = true;
                    break;
                case '"':
                    for (i++; line[i] != '"'; i++)
                    {
                        if (line[i] == '\\' && i + 1 < line.Length && "\"\\$`".Contains(line[i + 1], StringComparison.Ordinal))
                        {
                            i++;
                        }
                        word.Append(line[i]);
                    }
                    inWord = true;
                    break;
                case '\\':
                    word.Append(line[++i]);
                    inWord = true;
                    break;
                default:
                    word.Append(c);
                    inWord = true;
                    break;
            }
        }
        if (inWord)
        {
            words.Add(word.ToString());
        }
        return words;
    }

    /// <summary>
    /// The port's rules among <paramref name="commands"/>, per chain in order. ebtables chains map to roles
    /// (<c>libvirt-J-PORT</c> I, <c>libvirt-P-PORT</c> O, <c>J-PORT-S</c> I-S, <c>P-PORT-S</c> O-S), iptables chains to
    /// <c>FJ</c> FI, <c>FP</c> FO, <c>HJ</c> HI with the program's family.
    /// </summary>
    public static Dictionary<string, List<StructuralRule>> Rules(IEnumerable<(string Program, IReadOnlyList<string> Arguments)> commands, string port)
    {
        var result = new Dictionary<string, List<StructuralRule>>(StringComparer.Ordinal);
        foreach (var (program, args) in commands)
        {
            var append = IndexOf(args, "-A");
            if (append < 0)
            {
                continue;
            }
            var chain = Chain(program, args[append + 1], port);
            if (chain is null)
            {
                continue;
            }
            foreach (var rule in Parse(program, chain, args, port))
            {
                if (!result.TryGetValue(rule.Chain, out var list))
                {
                    result[rule.Chain] = list = [];
                }
                list.Add(rule);
            }
        }
        return result;
    }

    private static string? Chain(string program, string name, string port)
    {
        if (program == "ebtables")
        {
            return EbRole(name, port) ?? (name is "PREROUTING" or "POSTROUTING"
                ? null // the hook's jump to the port's root chain: nft's from-vm/to-vm verdict maps
                : throw new FormatException($"ebtables -A {name}: not a chain of port {port}"));
        }
        var family = program switch
        {
            "iptables" => "ipv4",
            "ip6tables" => "ipv6",
            _ => throw new FormatException($"unknown program {program}"),
        };
        if (name == "FJ-" + port)
        {
            return "FI " + family;
        }
        if (name == "FP-" + port)
        {
            return "FO " + family;
        }
        if (name == "HJ-" + port)
        {
            return "HI " + family;
        }
        // libvirt-in/out/host-in/in-post: the physdev dispatch to the port's chains, nft's mark verdict maps
        return name is "libvirt-in" or "libvirt-out" or "libvirt-host-in" or "libvirt-in-post" or "FORWARD" or "INPUT"
            ? null
            : throw new FormatException($"{program} -A {name}: not a chain of port {port}");
    }

    private static string? EbRole(string name, string port) => name switch
    {
        _ when name == "libvirt-J-" + port => "I",
        _ when name == "libvirt-P-" + port => "O",
        _ when name.StartsWith("J-" + port + "-", StringComparison.Ordinal) => "I-" + name[(port.Length + 3)..],
        _ when name.StartsWith("P-" + port + "-", StringComparison.Ordinal) => "O-" + name[(port.Length + 3)..],
        _ => null,
    };

    private static readonly string[] StpConfigFields =
    [
        "stp.flags", "stp.root-prio", "stp.root-addr", "stp.root-cost", "stp.sender-prio", "stp.sender-addr", "stp.port",
        "stp.msg-age", "stp.max-age", "stp.hello-time", "stp.forward-delay",
    ];

    private static List<StructuralRule> Parse(string program, string chain, IReadOnlyList<string> args, string port)
    {
        var eb = program == "ebtables";
        var ip = program == "ip6tables" ? "ip6" : "ip";
        var matches = new List<FieldMatch>();
        string? verdict = null;
        var negateNext = false;
        var i = 0;

        string Next() => i < args.Count ? args[i++] : throw new FormatException($"{program} {string.Join(' ', args)}: option {args[i - 1]} has no value");

        void Add(string field, string value)
        {
            // The negation comes before the option (iptables: -m mac ! --mac-source) or after it (ebtables: -s ! MAC).
            var negated = negateNext;
            negateNext = false;
            matches.Add(new FieldMatch(field, negated, value));
        }

        string Value()
        {
            var value = Next();
            if (value == "!")
            {
                negateNext = true;
                value = Next();
            }
            return value;
        }

        while (i < args.Count)
        {
            var option = args[i++];
            switch (option)
            {
                case "-w" or "--concurrent":
                    break;
                case "-t":
                    Next();
                    break;
                case "-A":
                    Next();
                    break;
                case "!":
                    negateNext = true;
                    break;
                case "-m":
                    Next(); // a module is loaded for its options, which follow
                    break;
                case "-j" or "-g":
                    verdict = Verdict(Next(), port, eb);
                    break;
                case "-p" when eb:
                    var etherType = Value();
                    Add("ether.type", EtherType(etherType));
                    break;
                case "-p":
                    var protocol = Value();
                    if (Canonical.Protocol(protocol) is { } number)
                    {
                        Add("l4proto", number);
                    }
                    else
                    {
                        negateNext = false;
                    }
                    break;
                case "-s" when eb:
                    AddMac("ether.saddr", Value());
                    break;
                case "-d" when eb:
                    AddMac("ether.daddr", Value());
                    break;
                case "--ip-source" or "--ip6-source":
                    Add(option.StartsWith("--ip6", StringComparison.Ordinal) ? "ip6.saddr" : "ip.saddr", Canonical.Network(Value()));
                    break;
                case "--ip-destination" or "--ip6-destination":
                    Add(option.StartsWith("--ip6", StringComparison.Ordinal) ? "ip6.daddr" : "ip.daddr", Canonical.Network(Value()));
                    break;
                case "--ip-protocol" or "--ip6-protocol":
                    Add("l4proto", Canonical.Protocol(Value())!);
                    break;
                case "--ip-tos":
                    Add("ip.tos", Canonical.Hex8(Value()));
                    break;
                case "--ip-source-port" or "--ip6-source-port" or "--sport":
                    Add("l4.sport", Canonical.Range(Value()));
                    break;
                case "--ip-destination-port" or "--ip6-destination-port" or "--dport":
                    Add("l4.dport", Canonical.Range(Value()));
                    break;
                case "--ip6-icmp-type":
                    IcmpPair(Value(), '/');
                    break;
                case "--icmp-type" or "--icmpv6-type":
                    IcmpPair(Value(), '/');
                    break;
                case "--arp-htype":
                    Add("arp.htype", Canonical.Decimal(Value()));
                    break;
                case "--arp-ptype":
                    Add("arp.ptype", Canonical.Hex16(Value()));
                    break;
                case "--arp-opcode":
                    Add("arp.opcode", Canonical.Decimal(Value()));
                    break;
                case "--arp-mac-src":
                    Add("arp.sha", Canonical.Mac(Value()));
                    break;
                case "--arp-mac-dst":
                    Add("arp.tha", Canonical.Mac(Value()));
                    break;
                case "--arp-ip-src":
                    Add("arp.spa", Canonical.Network(Value()));
                    break;
                case "--arp-ip-dst":
                    Add("arp.tpa", Canonical.Network(Value()));
                    break;
                case "--arp-gratuitous":
                    Add("arp.gratuitous", "1");
                    break;
                case "--vlan-id":
                    Add("vlan.id", Canonical.Decimal(Value()));
                    break;
                case "--vlan-encap":
                    Add("vlan.type", Canonical.Hex16(Value()));
                    break;
                case "--stp-type":
                    Add("stp.type", Canonical.Decimal(Value()));
                    break;
                case "--stp-flags":
                    Add("stp.flags", Canonical.Decimal(Value()));
                    break;
                case "--stp-root-pri":
                    Add("stp.root-prio", Canonical.Range(Value()));
                    break;
                case "--stp-root-addr":
                    AddMac("stp.root-addr", Value());
                    break;
                case "--stp-root-cost":
                    Add("stp.root-cost", Canonical.Range(Value()));
                    break;
                case "--stp-sender-prio":
                    Add("stp.sender-prio", Canonical.Range(Value()));
                    break;
                case "--stp-sender-addr":
                    AddMac("stp.sender-addr", Value());
                    break;
                case "--stp-port":
                    Add("stp.port", Canonical.Range(Value()));
                    break;
                case "--stp-msg-age":
                    Add("stp.msg-age", Canonical.Range(Value()));
                    break;
                case "--stp-max-age":
                    Add("stp.max-age", Canonical.Range(Value()));
                    break;
                case "--stp-hello-time":
                    Add("stp.hello-time", Canonical.Range(Value()));
                    break;
                case "--stp-forward-delay":
                    Add("stp.forward-delay", Canonical.Range(Value()));
                    break;
                case "--mac-source":
                    AddMac("ether.saddr", Value());
                    break;
                case "--source" or "-s":
                    Add(ip + ".saddr", Canonical.Network(Value()));
                    break;
                case "--destination" or "-d":
                    Add(ip + ".daddr", Canonical.Network(Value()));
                    break;
                case "--src-range":
                    Add(ip + ".saddr", Canonical.Network(Value()));
                    break;
                case "--dst-range":
                    Add(ip + ".daddr", Canonical.Network(Value()));
                    break;
                case "--dscp":
                    Add("dscp", Canonical.Decimal(Value()));
                    break;
                case "--ctstate" or "--state":
                    Add("ct.state", Canonical.States(Value()));
                    break;
                case "--ctdir":
                    Add("ct.direction", Value().ToLowerInvariant());
                    break;
                case "--connlimit-above":
                    Add("ct.count", "over " + Canonical.Decimal(Value()));
                    break;
                case "--tcp-flags":
                    var mask = Value();
                    Add("tcp.flags", Canonical.TcpFlags(mask.Split(',')) + "=" + Canonical.TcpFlags(Next().Split(',')));
                    break;
                case "--tcp-option":
                    Add("tcp.option", Canonical.Decimal(Value()));
                    break;
                case "--comment":
                    Next(); // a comment matches nothing (ebtables has none; the nft writer's provenance comments neither)
                    break;
                case "--match-set":
                    var set = Value();
                    Add("ipset", set + " " + Next());
                    break;
                default:
                    throw new FormatException($"{program} {string.Join(' ', args)}: unknown option {option}");
            }
        }
        if (verdict is null)
        {
            throw new FormatException($"{program} {string.Join(' ', args)}: no target");
        }
        return Expand(chain, matches, verdict);

        void AddMac(string field, string text)
        {
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            Add(field, slash < 0 ? Canonical.Mac(text) : Canonical.Mac(text[..slash], text[(slash + 1)..]));
        }

        // T[:T2][/C[:C2]] (ebtables ranges with ':', iptables single values): the pair is one match (one negation).
        void IcmpPair(string text, char separator)
        {
            var parts = text.Split(separator);
            var negated = negateNext;
            negateNext = false;
            if (negated)
            {
                matches.Add(new FieldMatch("icmp.type.code", true, Canonical.Range(parts[0]) + (parts.Length > 1 ? "." + Canonical.Range(parts[1]) : "")));
                return;
            }
            matches.Add(new FieldMatch("icmp.type", false, Canonical.Range(parts[0])));
            if (parts.Length > 1)
            {
                matches.Add(new FieldMatch("icmp.code", false, Canonical.Range(parts[1])));
            }
        }
    }

    /// <summary>
    /// What the kernel's ebtables matches test beyond their options, made explicit (docs/design/nftables.md, section 3:
    /// the nft rules test the same). ebt_arp tests the hardware type and length (Ethernet, 6) when a MAC field is given,
    /// the protocol type and length (IPv4, 4) when an IP field or gratuitous is. ebt_stp tests the 802.2 header
    /// (<c>42 42 03</c>) whenever an STP option is given, and its config-BPDU fields only for config BPDUs (type 0):
    /// with no type given, the rule matches every non-config BPDU and config BPDUs with the fields (two nft rules);
    /// with a type other than 0 the fields are never tested.
    /// </summary>
    private static List<StructuralRule> Expand(string chain, List<FieldMatch> matches, string verdict)
    {
        var fields = matches.Select(m => m.Field).ToHashSet(StringComparer.Ordinal);
        var extra = new List<FieldMatch>();
        if (fields.Contains("arp.sha") || fields.Contains("arp.tha"))
        {
            extra.Add(new FieldMatch("arp.guard", false, "htype 1 hlen 6"));
        }
        if (fields.Contains("arp.spa") || fields.Contains("arp.tpa") || fields.Contains("arp.gratuitous"))
        {
            extra.Add(new FieldMatch("arp.guard", false, "ptype 0x0800 plen 4"));
        }
        if (fields.Any(f => f.StartsWith("stp.", StringComparison.Ordinal)))
        {
            extra.Add(new FieldMatch("stp.llc", false, "0x424203"));
        }
        var all = matches.Concat(extra).ToList();
        var config = all.Where(m => StpConfigFields.Contains(m.Field)).ToList();
        if (config.Count == 0)
        {
            return [StructuralRule.Create(chain, all.Select(m => m.ToString()), verdict)];
        }
        var type = all.FirstOrDefault(m => m.Field == "stp.type");
        if (type.Field is not null && !(type.Value == "0" && !type.Negated))
        {
            return [StructuralRule.Create(chain, all.Except(config).Select(m => m.ToString()), verdict)];
        }
        if (type.Field is not null)
        {
            return [StructuralRule.Create(chain, all.Select(m => m.ToString()), verdict)];
        }
        var common = all.Except(config).ToList();
        return
        [
            StructuralRule.Create(chain, common.Append(new FieldMatch("stp.type", true, "0")).Select(m => m.ToString()), verdict),
            StructuralRule.Create(chain, common.Append(new FieldMatch("stp.type", false, "0")).Concat(config).Select(m => m.ToString()), verdict),
        ];
    }

    /// <summary>
    /// The target as a verdict: a jump to a sub-chain by role. REJECT in an ebtables chain is DROP (there is no bridge
    /// reject; docs/design/nftables.md, section 1).
    /// </summary>
    private static string Verdict(string target, string port, bool eb) => target switch
    {
        "ACCEPT" => "accept",
        "DROP" => "drop",
        "REJECT" => eb ? "drop" : "reject",
        "RETURN" => "return",
        "CONTINUE" => "continue",
        _ => EbRole(target, port) is { } role ? "jump " + role : throw new FormatException($"unknown target {target}"),
    };

    private static string EtherType(string text) => text.ToLowerInvariant() switch
    {
        "ipv4" => "0x0800",
        "ipv6" => "0x86dd",
        "arp" => "0x0806",
        "rarp" => "0x8035",
        "802_1q" => "0x8100",
        var other => Canonical.Hex16(other),
    };

    private static int IndexOf(IReadOnlyList<string> args, string value)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == value)
            {
                return i;
            }
        }
        return -1;
    }
}
