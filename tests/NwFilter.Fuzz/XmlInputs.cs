using System.Net;
using System.Text;
using CsCheck;
using NwFilter.Core.Schema;

namespace NwFilter.Fuzz;

/// <summary>One reader input: the document text, or raw bytes read through a file (for invalid UTF-8), and the mode.</summary>
public sealed record XmlInput(string? Text, byte[]? Bytes, bool Lenient, string Shape)
{
    public long Size => Text is not null ? Text.Length * 2L : Bytes!.LongLength;

    public override string ToString() =>
        $"{Shape} lenient={Lenient} " + (Text is not null ? Quote(Text) : "bytes:" + Convert.ToHexString(Bytes!.AsSpan(0, Math.Min(Bytes!.Length, 4000))));

    private static string Quote(string s) => "\"" + (s.Length > 4000 ? s[..4000] + $"...({s.Length} chars)" : s)
        .Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\0", "\\0") + "\"";
}

/// <summary>
/// Structure-aware XML documents: trees built from the real element and attribute names (the filter and binding
/// schema, every protocol element of Schema/ProtocolSchema.cs with its attributes), values from <see cref="Values"/>,
/// or our own test documents (tests/data/xml, tests/data/bad); then mutated: truncated, nested deep, given huge
/// attributes, entities, a DTD, control characters, lone surrogates, or encoded as bytes with invalid UTF-8.
/// </summary>
public static class XmlInputs
{
    /// <summary>
    /// How deep a generated nesting goes (-nesting N): 100,000, the depth issue 11 names; the reader refuses anything
    /// past its limit (NestingTooDeep, docs/design/limits.md) without recursing (Xml/XmlFuzzRegressionTests).
    /// </summary>
    public static int MaxNesting { get; set; } = 100_000;

    private static readonly string[] RuleActions = ["accept", "drop", "reject", "return", "continue"];
    private static readonly string[] Directions = ["in", "out", "inout"];
    private static readonly string[] Chains = ["root", "mac", "arp", "rarp", "ipv4", "ipv6", "vlan", "stp", "arp-x", "ipv4_1", "mac-very-long-name-over-limit", ""];
    private static readonly string[] FilterRefs = ["clean-traffic", "no-ip-spoofing", "allow-arp", "missing", "self", "../x", "a/b", ""];

    private static readonly Lazy<string[]> Seeds = new(LoadSeeds);

    public static IReadOnlyList<string> SeedDocuments => Seeds.Value;

    public static Gen<XmlInput> Filters { get; } = new GenFrom<XmlInput>(pcg => Make(pcg, binding: false), i => i.Size);

    public static Gen<XmlInput> Bindings { get; } = new GenFrom<XmlInput>(pcg => Make(pcg, binding: true), i => i.Size);

    private static XmlInput Make(PCG pcg, bool binding)
    {
        var lenient = pcg.Chance(50);
        string doc, shape;
        var seeds = Seeds.Value.Where(s => s.Contains(binding ? "<filterbinding" : "<filter ", StringComparison.Ordinal)).ToArray();
        if (seeds.Length > 0 && pcg.Chance(25))
        {
            doc = pcg.Pick(seeds);
            shape = "seed";
        }
        else
        {
            var sb = new StringBuilder();
            (binding ? Binding(pcg) : Filter(pcg, validOnly: false)).Write(sb, pcg, pcg.Chance(90));
            doc = sb.ToString();
            shape = "tree";
        }
        var mutations = pcg.Int(10) switch { < 4 => 0, < 8 => 1, _ => pcg.Int(2, 5) };
        for (var i = 0; i < mutations; i++)
        {
            (doc, var name) = Mutate(pcg, doc);
            shape += "+" + name;
        }
        if (pcg.Chance(5))
        {
            return new XmlInput(null, Encode(pcg, doc), lenient, shape + "+bytes");
        }
        return new XmlInput(doc, null, lenient, shape);
    }

    /// <summary>A filter tree; <paramref name="validOnly"/> keeps to values the schema accepts (for the nft target).</summary>
    public static Node Filter(PCG pcg, bool validOnly, int maxRules = 8)
    {
        var filter = new Node("filter");
        filter.Attr("name", validOnly ? "fuzz" + pcg.Int(0, 999) : pcg.Pick(["fuzz", "clean-traffic", "a.b-c_d:e", "", " x", "a/b", "..", "x\u0001", new string('n', 300)]));
        if (pcg.Chance(60))
        {
            filter.Attr("chain", validOnly ? pcg.Pick(["root", "ipv4", "ipv6", "arp", "mac"]) : pcg.Pick(Chains));
        }
        if (pcg.Chance(30))
        {
            filter.Attr("priority", validOnly ? pcg.Int(-1000, 1000).ToString() : pcg.Pick(["-1000", "1000", "-1001", "1001", "x", "0x10", "500"]));
        }
        if (pcg.Chance(20))
        {
            filter.Add(new Node("uuid") { Text = validOnly || pcg.Chance(60) ? Uuid(pcg) : Values.RandomText(pcg, 36) });
        }
        var rules = pcg.Int(0, maxRules);
        for (var i = 0; i < rules; i++)
        {
            if (!validOnly && pcg.Chance(15))
            {
                filter.Add(FilterRef(pcg, validOnly));
            }
            else
            {
                filter.Add(Rule(pcg, validOnly));
            }
        }
        if (!validOnly && pcg.Chance(10))
        {
            filter.Add(new Node(pcg.Pick(["unknown", "rule", "filter", "filterref", "tcp"])) { Text = pcg.Chance(50) ? "text" : null });
        }
        return filter;
    }

    public static Node Rule(PCG pcg, bool validOnly)
    {
        var rule = new Node("rule");
        rule.Attr("action", validOnly || pcg.Chance(90) ? pcg.Pick(RuleActions) : pcg.Pick(["", "ACCEPT", "allow", "x"]));
        rule.Attr("direction", validOnly || pcg.Chance(90) ? pcg.Pick(Directions) : pcg.Pick(["", "IN", "both"]));
        if (pcg.Chance(30))
        {
            rule.Attr("priority", pcg.Int(-1000, 1000).ToString());
        }
        if (pcg.Chance(10))
        {
            rule.Attr("statematch", validOnly ? pcg.Pick(["true", "false", "0", "1"]) : pcg.Pick(["true", "false", "0", "1", "yes", "no"]));
        }
        var protocol = pcg.Pick(Values.Protocols);
        var element = new Node(protocol.ElementName);
        var count = pcg.Int(0, Math.Min(6, protocol.Attributes.Length));
        var specs = protocol.Attributes.OrderBy(_ => pcg.Next()).Take(count)
            .Where(a => !validOnly || a.Name is not ("ipset" or "ipsetflags")).ToList();
        foreach (var spec in specs)
        {
            element.Attr(spec.Name, Values.For(pcg, spec, validOnly));
        }
        if (validOnly && pcg.Chance(90))
        {
            OrderRanges(element);
        }
        if (validOnly && protocol.ElementName is "ip" or "ipv6" && specs.Any(a => a.Name.Contains("port", StringComparison.Ordinal)))
        {
            // libvirt wants a protocol with ports there (InvalidPortSpecification otherwise).
            element.Attributes.RemoveAll(a => a.Name == "protocol");
            element.Attr("protocol", pcg.Pick(["tcp", "udp", "sctp"]));
        }
        if (pcg.Chance(10))
        {
            element.Attr("match", pcg.Chance(80) ? "no" : "yes");
        }
        if (!validOnly && pcg.Chance(5))
        {
            element.Attr(pcg.Pick(["bogus", "srcipaddr", "comment"]), Values.RandomText(pcg, 8));
        }
        if (validOnly || pcg.Chance(95))
        {
            rule.Add(element);
        }
        if (!validOnly && pcg.Chance(5))
        {
            rule.Add(new Node(pcg.Pick(Values.Protocols).ElementName));
        }
        return rule;
    }

    /// <summary>Swaps a range's ends when the start is above the end (a reversed range stays in one rule of ten).</summary>
    private static void OrderRanges(Node element)
    {
        var a = element.Attributes;
        for (var i = 0; i < a.Count; i++)
        {
            var hi = a[i].Name.EndsWith("-hi", StringComparison.Ordinal) ? a[i].Name[..^3]
                : a[i].Name.EndsWith("end", StringComparison.Ordinal) ? a[i].Name[..^3] + "start"
                : null;
            var j = hi is null ? -1 : a.FindIndex(x => x.Name == hi || (hi.EndsWith("start", StringComparison.Ordinal) && x.Name == hi[..^5]));
            if (j >= 0 && Number(a[j].Value) is { } lo && Number(a[i].Value) is { } up && lo > up)
            {
                (a[i], a[j]) = ((a[i].Name, a[j].Value), (a[j].Name, a[i].Value));
            }
        }
    }

    private static ulong? Number(string s) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(s[2..], System.Globalization.NumberStyles.HexNumber, null, out var h) ? h : null
            : ulong.TryParse(s, out var d) ? d : null;

    private static Node FilterRef(PCG pcg, bool validOnly)
    {
        var r = new Node("filterref");
        r.Attr("filter", pcg.Pick(FilterRefs));
        var parameters = pcg.Int(0, 3);
        for (var i = 0; i < parameters; i++)
        {
            var p = new Node("parameter");
            p.Attr("name", pcg.Pick(["IP", "MAC", "CTRL_IP_LEARNING", "DHCPSERVER", "9x", "", "a-b", new string('P', 100)]));
            p.Attr("value", pcg.Chance(60) ? Values.IPv4(pcg) : pcg.Chance(50) ? Values.Variable(pcg) : Values.RandomText(pcg, pcg.Int(0, 20)));
            r.Add(p);
        }
        return r;
    }

    private static Node Binding(PCG pcg)
    {
        var b = new Node("filterbinding");
        var parts = new List<Node>();
        if (pcg.Chance(90))
        {
            var owner = new Node("owner");
            owner.Add(new Node("name") { Text = pcg.Pick(["vm1", "web & db", "", new string('o', 500), Values.RandomText(pcg, 10)]) });
            owner.Add(new Node("uuid") { Text = pcg.Chance(80) ? Uuid(pcg) : pcg.Pick(["", "x", "00000000-0000-0000-0000-00000000000", Values.RandomText(pcg, 36)]) });
            parts.Add(owner);
        }
        if (pcg.Chance(90))
        {
            parts.Add(new Node("portdev").Attr("name", pcg.Pick(["vnet0", "tap1", "", "a/b", "vnet0vnet0vnet0vnet0", "..", "x y", "eth\n0"])));
        }
        if (pcg.Chance(30))
        {
            parts.Add(new Node("linkdev").Attr("name", pcg.Pick(["eth0", "", "a/b"])));
        }
        if (pcg.Chance(90))
        {
            parts.Add(new Node("mac").Attr("address", pcg.Chance(80) ? Values.Mac(pcg) : pcg.Pick(["", "ff:ff", "01:00:5e:00:00:01", Values.RandomText(pcg, 17)])));
        }
        if (pcg.Chance(90))
        {
            parts.Add(FilterRef(pcg, validOnly: false));
        }
        if (pcg.Chance(10))
        {
            parts.Add(new Node(pcg.Pick(["backend", "unknown", "owner", "mac"])).Attr("name", pcg.Pick(["nftables", "iptables", "x"])));
        }
        foreach (var part in parts.OrderBy(_ => pcg.Int(pcg.Chance(80) ? 1 : 100)))
        {
            b.Add(part);
        }
        return b;
    }

    private static readonly string[] Entities =
        ["&amp;", "&lt;", "&#0;", "&#x0;", "&#xD800;", "&#x10FFFF;", "&#x110000;", "&#99999999999;", "&undefined;", "&", "&#;", "&#x;", "&lol;"];

    private static readonly string[] Dtds =
    [
        "<!DOCTYPE filter [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>",
        "<!DOCTYPE filter SYSTEM \"file:///etc/passwd\">",
        "<!DOCTYPE filter [<!ENTITY xxe SYSTEM \"file:///dev/zero\">]>",
        "<!DOCTYPE filterbinding>",
        "<?xml version='1.0' encoding='utf-16'?>",
        "<?xml version='1.1'?>",
        "<?xml version=\"1.0\"?>\n",
        "\uFEFF",
    ];

    /// <summary>One mutation of the text, and its name for the report.</summary>
    public static (string Text, string Name) Mutate(PCG pcg, string doc)
    {
        var at = pcg.Int(doc.Length + 1);
        switch (pcg.Int(12))
        {
            case 0:
                return (doc[..at], "truncate");
            case 1:
            {
                var depth = pcg.Chance(10) ? MaxNesting : pcg.Int(2, 500);
                var name = pcg.Pick(["rule", "filter", "filterref", "tcp", "a", "filterbinding", "owner"]);
                var close = pcg.Chance(50);
                var open = string.Concat(Enumerable.Repeat($"<{name}>", depth));
                var end = close ? string.Concat(Enumerable.Repeat($"</{name}>", depth)) : "";
                var inner = InsideRoot(doc);
                return (doc[..inner] + open + end + doc[inner..], close ? "nest" : "nest-unclosed");
            }
            case 2:
            {
                var n = pcg.Chance(20) ? 4 << 20 : pcg.Int(1000, 300_000);
                var attr = pcg.Pick(["srcipaddr", "comment", "name", "filter", "value", "x"]);
                var at2 = AfterFirstName(doc);
                var fill = pcg.Pick("9a$.:b".ToCharArray());
                return (doc[..at2] + $" {attr}='" + new string(fill, n) + "'" + doc[at2..], "huge-attribute");
            }
            case 3:
                return (doc.Insert(at, pcg.Pick(Entities)), "entity");
            case 4:
                return (pcg.Pick(Dtds) + doc, "prolog");
            case 5:
                return (doc.Insert(at, Values.RandomChar(pcg).ToString()), "char");
            case 6:
                return (doc.Insert(at, pcg.Pick(["<!--", "-->", "<![CDATA[x]]>", "<?pi x?>", "</filter>", "<rule>", "/>", "'", "\"", "=", "<", ">", "\0", "\r\n"])), "token");
            case 7:
                return (doc + pcg.Pick(["<filter name='b'/>", "garbage", "\0", "<", "<!-- trailing -->", "\n\n", doc]), "trailing");
            case 8:
            {
                if (doc.Length == 0)
                {
                    return (doc, "none");
                }
                var from = pcg.Int(doc.Length);
                var len = pcg.Int(1, Math.Min(200, doc.Length - from));
                return (doc.Remove(from, len), "delete");
            }
            case 9:
            {
                if (doc.Length == 0)
                {
                    return (doc, "none");
                }
                var from = pcg.Int(doc.Length);
                var len = pcg.Int(1, Math.Min(200, doc.Length - from));
                return (doc.Insert(pcg.Int(doc.Length + 1), doc.Substring(from, len)), "splice");
            }
            case 10:
            {
                var count = pcg.Chance(10) ? 100_000 : pcg.Int(10, 2_000);
                var child = pcg.Pick(["<rule action='accept' direction='in'><all/></rule>", "<filterref filter='x'/>", "<parameter name='IP' value='1.2.3.4'/>", "<uuid>0</uuid>"]);
                var inner = InsideRoot(doc);
                return (doc[..inner] + string.Concat(Enumerable.Repeat(child, count)) + doc[inner..], "many-children");
            }
            default:
                return (WebUtility.HtmlEncode(doc[..at]) + doc[at..], "escaped");
        }
    }

    /// <summary>Where the root's content starts (after its start tag), or the end.</summary>
    private static string Uuid(PCG pcg) => new Guid(pcg.Bytes(16)).ToString();

    private static int InsideRoot(string doc)
    {
        var lt = doc.IndexOf('<', StringComparison.Ordinal);
        var gt = lt < 0 ? -1 : doc.IndexOf('>', lt);
        return gt < 0 ? doc.Length : gt + 1;
    }

    private static int AfterFirstName(string doc)
    {
        var lt = doc.IndexOf('<', StringComparison.Ordinal);
        if (lt < 0)
        {
            return doc.Length;
        }
        var i = lt + 1;
        while (i < doc.Length && !char.IsWhiteSpace(doc[i]) && doc[i] is not ('>' or '/'))
        {
            i++;
        }
        return i;
    }

    /// <summary>The text as UTF-8 with some bytes made invalid (a lone continuation, an overlong form, a surrogate, 0xff).</summary>
    private static byte[] Encode(PCG pcg, string doc)
    {
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(doc.Replace('\uD800', 'x')));
        var n = pcg.Int(1, 4);
        for (var i = 0; i < n; i++)
        {
            byte[] bad = pcg.Pick<byte[]>([[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff], [0xfe, 0xff], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x00]]);
            bytes.InsertRange(pcg.Int(bytes.Count + 1), bad);
        }
        return [.. bytes];
    }

    private static string[] LoadSeeds()
    {
        var data = FindTestData();
        if (data is null)
        {
            return [];
        }
        return [.. new[] { "xml", "bad" }
            .Select(d => Path.Combine(data, d))
            .Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.xml", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllText)];
    }

    /// <summary>tests/data of the repository, found upwards from the program.</summary>
    public static string? FindTestData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "data");
            if (Directory.Exists(Path.Combine(candidate, "xml")))
            {
                return candidate;
            }
        }
        return null;
    }
}

/// <summary>An element of a generated document.</summary>
public sealed class Node(string name)
{
    public string Name { get; } = name;

    public List<(string Name, string Value)> Attributes { get; } = [];

    public List<Node> Children { get; } = [];

    public string? Text { get; set; }

    public Node Attr(string n, string v)
    {
        Attributes.Add((n, v));
        return this;
    }

    public Node Add(Node child)
    {
        Children.Add(child);
        return this;
    }

    /// <summary>Writes the element; <paramref name="escape"/> false writes values raw (a hostile author's document).</summary>
    public void Write(StringBuilder sb, PCG? pcg, bool escape)
    {
        sb.Append('<').Append(Name);
        foreach (var (n, v) in Attributes)
        {
            var quote = pcg is null || pcg.Chance(50) ? '\'' : '"';
            sb.Append(' ').Append(n).Append('=').Append(quote).Append(escape ? Escape(v) : v).Append(quote);
        }
        if (Children.Count == 0 && Text is null)
        {
            sb.Append("/>");
            return;
        }
        sb.Append('>');
        if (Text is not null)
        {
            sb.Append(escape ? Escape(Text) : Text);
        }
        foreach (var child in Children)
        {
            sb.Append('\n');
            child.Write(sb, pcg, escape);
        }
        sb.Append("</").Append(Name).Append('>');
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        Write(sb, null, escape: true);
        return sb.ToString();
    }

    /// <summary>XML escaping; characters XML 1.0 cannot hold at all (NUL, lone surrogates) stay, as a hostile author writes them.</summary>
    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace("'", "&apos;").Replace("\"", "&quot;").Replace("\n", "&#10;");
}
