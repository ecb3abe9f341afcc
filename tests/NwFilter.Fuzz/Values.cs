using System.Text;
using CsCheck;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Fuzz;

/// <summary>
/// Attribute values drawn from the protocol table (Schema/ProtocolSchema.cs): valid values of each datatype the
/// attribute takes, values at and past its limits, variable references, and hostile text (injection characters,
/// control characters, lone surrogates, huge strings).
/// </summary>
public static class Values
{
    /// <summary>The protocol elements (not the rule without one, which has no element name).</summary>
    public static IReadOnlyList<ProtocolSchema> Protocols { get; } =
        [.. ProtocolSchema.All.Values.Where(p => p.ElementName.Length > 0).OrderBy(p => p.ElementName, StringComparer.Ordinal)];

    public static IReadOnlyList<(ProtocolSchema Protocol, AttributeSpec Spec)> Specs { get; } =
        [.. Protocols.SelectMany(p => p.Attributes.Select(a => (p, a)))];

    private static readonly string[] Hostile =
    [
        "", " ", "-1", "+1", "0x", "0x-1", "00000000000000000000000000001", "18446744073709551616", "4294967296",
        "65536", "256", "1e3", "1.5", "NaN", "\0", "a\0b", "\n", "1\n2", "\"", "'", "\"; flush ruleset; \"", "{ }",
        "}", "#", "$", "$IP", "$IP[", "$IP[-1]", "$IP[@", "$IP[@1001]", "$IP[99999999999]", "$ ", "$1", "${IP}",
        "a;b", "a b", "\\", "*", "?", "[", "%s%n", "..", "../../etc/passwd", "\uFEFF1", "\u00A01", "\uFF11",
        "\uD800", "\uDFFF", "1\uD800", "::", ":::", "1::1::1", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3", "1.2.3.4.5",
        "256.1.1.1", "01.02.03.04", "0x7f.1", "1.2.3.4/33", "/", "1.2.3.4/", "ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff:ff",
        "gg:00:00:00:00:00", "0:0:0:0:0:0", "ff-ff-ff-ff-ff-ff", "NEW,", ",", "NEW,,ESTABLISHED", "SYN/", "/SYN",
        "SYN/ACK/FIN", "ALL/NONE", "src,", "src,dst,src,dst", "src,dst,src", "yes", "no", "true", "2", "TRUE",
    ];

    private static readonly string[] States = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "NONE"];
    private static readonly string[] TcpFlagNames = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ALL", "NONE"];

    /// <summary>A value for the attribute: valid most of the time, else at a limit, a variable or hostile.</summary>
    public static string For(PCG pcg, AttributeSpec spec, bool validOnly = false)
    {
        var roll = validOnly ? 0 : pcg.Int(100);
        return roll switch
        {
            _ when validOnly => Valid(pcg, spec, edges: false),
            < 70 => Valid(pcg, spec),
            < 78 => Variable(pcg),
            < 90 => pcg.Pick(Hostile),
            < 95 => Mutate(pcg, Valid(pcg, spec)),
            < 98 => RandomText(pcg, pcg.Int(1, 40)),
            _ => Huge(pcg),
        };
    }

    /// <summary>A valid literal for one of the attribute's datatypes.</summary>
    public static string Valid(PCG pcg, AttributeSpec spec, bool edges = true)
    {
        var types = Enum.GetValues<DataType>().Where(t => t != DataType.None && (spec.Types & t) != 0).ToArray();
        var type = types.Length == 0 ? DataType.StringCopy : pcg.Pick(types);
        var max = spec.Max;
        return type switch
        {
            DataType.UInt8 => Number(pcg, spec.Min, Math.Min(max ?? 255, 255), hex: false, edges),
            DataType.UInt8Hex => Number(pcg, spec.Min, Math.Min(max ?? 255, 255), hex: true, edges),
            DataType.UInt16 => Number(pcg, spec.Min, Math.Min(max ?? 65535, 65535), hex: false, edges),
            DataType.UInt16Hex => Number(pcg, spec.Min, Math.Min(max ?? 65535, 65535), hex: true, edges),
            DataType.UInt32 => Number(pcg, spec.Min, Math.Min(max ?? uint.MaxValue, uint.MaxValue), hex: false, edges),
            DataType.UInt32Hex => Number(pcg, spec.Min, Math.Min(max ?? uint.MaxValue, uint.MaxValue), hex: true, edges),
            DataType.MacAddress => Mac(pcg),
            DataType.MacMask => edges && pcg.Chance(30) ? Mac(pcg) : MacMask(pcg),
            DataType.IPv4Address => IPv4(pcg),
            DataType.IPv4Mask => pcg.Chance(50) ? pcg.Int(0, 32).ToString() : "255.255.255.0",
            DataType.IPv6Address => IPv6(pcg),
            DataType.IPv6Mask => pcg.Chance(70) ? pcg.Int(0, 128).ToString() : "ffff:ffff::",
            DataType.String => StringValue(pcg, spec),
            DataType.StringCopy => RandomPrintable(pcg, pcg.Int(0, Math.Min(spec.MaxLength ?? 64, 64)), edges),
            DataType.Boolean => pcg.Pick(["true", "false", "1", "0", "yes", "no"]),
            DataType.IpSetName => "set" + pcg.Int(0, 99),
            DataType.IpSetFlags => string.Join(',', Enumerable.Range(0, pcg.Int(1, 6)).Select(_ => pcg.Chance(50) ? "src" : "dst")),
            _ => "0",
        };
    }

    private static string StringValue(PCG pcg, AttributeSpec spec) => spec.StringRule switch
    {
        StringRule.Symbol when spec.Symbols.Length > 0 => Case(pcg, pcg.Pick(spec.Symbols.Select(s => s.Key).ToArray())),
        StringRule.ConnectionState => string.Join(',', Enumerable.Range(0, pcg.Int(1, 3)).Select(_ => Case(pcg, pcg.Pick(States))).Distinct()),
        StringRule.TcpFlags => $"{Flags(pcg)}/{Flags(pcg)}",
        _ => RandomPrintable(pcg, pcg.Int(1, 16)),
    };

    private static string Flags(PCG pcg) => string.Join(',', Enumerable.Range(0, pcg.Int(1, 3)).Select(_ => pcg.Pick(TcpFlagNames)).Distinct());

    private static string Case(PCG pcg, string s) => pcg.Int(4) switch
    {
        0 => s.ToLowerInvariant(),
        1 => s.ToUpperInvariant(),
        _ => s,
    };

    /// <summary>A number in [min, max], or just past a limit now and then.</summary>
    private static string Number(PCG pcg, ulong min, ulong max, bool hex, bool edges)
    {
        var value = pcg.Int(edges ? 10 : 2) switch
        {
            0 => min,
            1 => max,
            2 => max + 1,
            3 when min > 0 => min - 1,
            _ => min + pcg.Next64(max - min + 1 == 0 ? ulong.MaxValue : max - min + 1),
        };
        return hex ? "0x" + value.ToString(pcg.Chance(50) ? "x" : "X") : value.ToString();
    }

    public static string Mac(PCG pcg) => string.Join(':', pcg.Bytes(6).Select(b => b.ToString("x2")));

    /// <summary>A valid MAC mask: contiguous ones, then zeros.</summary>
    public static string MacMask(PCG pcg)
    {
        var ones = pcg.Int(0, 48);
        var mask = ones == 0 ? 0UL : ~0UL << (64 - ones) >> 16;
        return string.Join(':', Enumerable.Range(0, 6).Select(i => ((mask >> (40 - 8 * i)) & 0xff).ToString("x2")));
    }

    public static string IPv4(PCG pcg) => string.Join('.', pcg.Bytes(4));

    public static string IPv6(PCG pcg) => pcg.Int(4) switch
    {
        0 => "::",
        1 => "fe80::" + pcg.Int(0, 0xffff).ToString("x"),
        2 => "::ffff:" + IPv4(pcg),
        _ => string.Join(':', Enumerable.Range(0, 8).Select(_ => pcg.Int(0, 0xffff).ToString("x"))),
    };

    /// <summary>A variable reference: plain, indexed, iterated, or malformed.</summary>
    public static string Variable(PCG pcg)
    {
        var name = pcg.Pick(["IP", "MAC", "PORTS", "A", "B_1", "DHCPSERVER", "CTRL_IP_LEARNING", "x", "9bad", "very_long_" + new string('v', 200)]);
        return pcg.Int(6) switch
        {
            0 => "$" + name,
            1 => $"${name}[{pcg.Int(0, 1100)}]",
            2 => $"${name}[@{pcg.Int(0, 1100)}]",
            3 => $"${name}[{pcg.Pick(["", "@", "-1", "x", "@-1", "1]", "99999999999999999999"])}",
            _ => "$" + name,
        };
    }

    /// <summary>The text with one small change: a character dropped, doubled, replaced or inserted.</summary>
    public static string Mutate(PCG pcg, string s)
    {
        if (s.Length == 0)
        {
            return RandomText(pcg, 1);
        }
        var i = pcg.Int(s.Length);
        return pcg.Int(4) switch
        {
            0 => s.Remove(i, 1),
            1 => s.Insert(i, s[i].ToString()),
            2 => s[..i] + RandomChar(pcg) + s[(i + 1)..],
            _ => s.Insert(i, RandomChar(pcg).ToString()),
        };
    }

    public static char RandomChar(PCG pcg) => pcg.Int(10) switch
    {
        0 => (char)pcg.Int(0, 31),
        1 => (char)pcg.Int(0xD800, 0xDFFF),
        2 => (char)pcg.Int(0x80, 0xFFFF),
        _ => pcg.Pick("0123456789abcdefx:./,$@[]-'\"<>&;{}# \\".ToCharArray()),
    };

    public static string RandomText(PCG pcg, int n)
    {
        var sb = new StringBuilder(n);
        for (var i = 0; i < n; i++)
        {
            sb.Append(RandomChar(pcg));
        }
        return sb.ToString();
    }

    /// <summary>Printable ASCII; without <paramref name="dollar"/> no '$' (which makes a comment a variable reference).</summary>
    private static string RandomPrintable(PCG pcg, int n, bool dollar = true)
    {
        var sb = new StringBuilder(n);
        for (var i = 0; i < n; i++)
        {
            var c = (char)pcg.Int(0x20, 0x7e);
            sb.Append(c == '$' && !dollar ? 'S' : c);
        }
        return sb.ToString();
    }

    /// <summary>A string of up to 2 MiB: repeated digits, a valid prefix with a huge tail, or many list items.</summary>
    public static string Huge(PCG pcg)
    {
        var n = pcg.Chance(20) ? 2 << 20 : pcg.Int(1000, 100_000);
        return pcg.Int(3) switch
        {
            0 => new string('9', n),
            1 => "1.2.3.4" + new string('0', n),
            _ => string.Join(',', Enumerable.Repeat("NEW", n / 4)),
        };
    }
}
