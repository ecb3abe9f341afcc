using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using NwFilter.Core.Model;

namespace NwFilter.Core.Schema;

/// <summary>
/// Parses attribute values as libvirt does, driven by an <see cref="AttributeSpec"/>: the spec's datatypes are tried
/// in <see cref="DataType"/> order and the first that parses wins; then the spec's checks (range, symbol, mask
/// contiguity...) decide. The result is a <see cref="TypedValue"/> whose <see cref="TypedValue.Text"/> is libvirt's
/// canonical form. Also parses variable references (<c>$V</c>, <c>$V[@n]</c>, <c>$V[n]</c>).
/// The reader uses it, and so does variable resolution to check a substituted value.
/// </summary>
internal static class ValueParser
{
    /// <summary>The largest iterator id of <c>$V[@n]</c>.</summary>
    public const int MaxIteratorId = 1000;

    private static readonly DataType[] TryOrder = Enum.GetValues<DataType>().Where(t => t != DataType.None).ToArray();

    /// <summary>
    /// Parses a literal (not a variable reference) for <paramref name="spec"/>. On failure, <paramref name="error"/>
    /// says why, in libvirt's words (<c>srcipaddr has illegal value 10.0.0.300</c>) followed by the reason.
    /// </summary>
    public static bool TryParse(AttributeSpec spec, string text, out TypedValue value, out string? error)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(text);
        string? reason = null;
        foreach (var type in TryOrder)
        {
            if ((spec.Types & type) == 0)
            {
                continue;
            }
            var outcome = TryType(spec, type, text, out var parsed, out var why);
            if (outcome == Outcome.Parsed)
            {
                value = parsed!;
                error = null;
                return true;
            }
            if (outcome == Outcome.Rejected)
            {
                // Parsed as this type but refused by the attribute's check: libvirt does not try further types.
                // A symbol list is the better explanation only when the text was not a number.
                if (!(type == DataType.String && reason is not null && text.Length > 0 && char.IsAsciiDigit(text[0])))
                {
                    reason = why;
                }
                break;
            }
            reason ??= why;
        }
        value = null!;
        error = $"{spec.Name} has illegal value {text}" + (reason is null ? "" : $": {reason}");
        return false;
    }

    /// <summary>Parses a literal for <paramref name="spec"/>, throwing <see cref="FormatException"/> on failure.</summary>
    public static TypedValue Parse(AttributeSpec spec, string text) =>
        TryParse(spec, text, out var value, out var error) ? value : throw new FormatException(error);

    /// <summary>
    /// Parses an attribute's value as written in XML: a variable reference when it starts with <c>$</c>, else a
    /// literal of the spec's types.
    /// </summary>
    public static bool TryParseAttribute(AttributeSpec spec, string text, bool negated, out AttributeValue value, out string? error)
    {
        if (text.StartsWith('$'))
        {
            if (TryParseVariable(text, out var access, out error))
            {
                value = AttributeValue.Of(access, negated);
                return true;
            }
            error = $"{spec.Name} has illegal value {text}: {error}";
            value = AttributeValue.Absent;
            return false;
        }
        if (TryParse(spec, text, out var literal, out error))
        {
            value = AttributeValue.Of(literal, negated);
            return true;
        }
        value = AttributeValue.Absent;
        return false;
    }

    /// <summary>
    /// Parses a variable reference, with its leading <c>$</c>: <c>$NAME</c>, <c>$NAME[@N]</c> (N ≤ 1000) or
    /// <c>$NAME[N]</c>; white space is allowed inside the brackets and text after <c>]</c> is ignored, as in libvirt.
    /// </summary>
    public static bool TryParseVariable(string text, out VariableAccess access, out string? error)
    {
        access = null!;
        var s = text.AsSpan();
        if (s.IsEmpty || s[0] != '$')
        {
            error = "Malformatted variable (a variable reference starts with '$')";
            return false;
        }
        s = s[1..];
        var n = 0;
        while (n < s.Length && IsVariableNameChar(s[n]))
        {
            n++;
        }
        if (n == 0)
        {
            error = "Malformatted variable (empty variable name)";
            return false;
        }
        var name = s[..n].ToString();
        if (n == s.Length)
        {
            access = new VariableAccess(name, VariableAccessKind.Iterator, 0);
            error = null;
            return true;
        }
        if (s[n] != '[')
        {
            error = "Malformatted variable";
            return false;
        }
        var rest = s[(n + 1)..].TrimStart(" \t\n\v\f\r");
        var kind = VariableAccessKind.Element;
        if (!rest.IsEmpty && rest[0] == '@')
        {
            kind = VariableAccessKind.Iterator;
            rest = rest[1..];
        }
        var close = rest.IndexOf(']');
        var number = close < 0 ? rest : rest[..close];
        number = number.TrimEnd(" \t\n\v\f\r");
        if (close < 0 || !TextParsers.TryParseUInt32(number, 10, out var index) || index > int.MaxValue)
        {
            error = kind == VariableAccessKind.Element ? "Malformatted array index" : "Malformatted iterator id";
            return false;
        }
        if (kind == VariableAccessKind.Iterator && index > MaxIteratorId)
        {
            error = $"Iterator ID exceeds maximum ID of {MaxIteratorId}";
            return false;
        }
        access = new VariableAccess(name, kind, (int)index);
        error = null;
        return true;
    }

    /// <summary>
    /// The index of the first control character (U+0000-U+001F, U+007F-U+009F) in <paramref name="text"/>, or -1.
    /// libvirt copies a comment as it is, but no backend can print a control character in one: nft strings have no
    /// escape, and a line break would split an xtables restore or save line. The filter reader refuses them.
    /// </summary>
    public static int IndexOfControl(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var at = text.AsSpan().IndexOfAnyInRange('\0', '\x1f');
        return at >= 0 ? at : text.AsSpan().IndexOfAnyInRange('\x7f', '\x9f');
    }

    /// <summary>Whether <paramref name="name"/> is a valid variable or parameter name (<c>[A-Za-z0-9_]+</c>).</summary>
    public static bool IsValidVariableName(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }
        foreach (var c in name)
        {
            if (!IsVariableNameChar(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Whether <paramref name="value"/> is a valid parameter value (<c>[A-Za-z0-9_.:]+</c>).</summary>
    public static bool IsValidParameterValue(string value)
    {
        if (value.Length == 0)
        {
            return false;
        }
        foreach (var c in value)
        {
            if (!(IsVariableNameChar(c) || c is '.' or ':'))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsVariableNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private enum Outcome
    {
        /// <summary>Not of this type: try the next.</summary>
        NotThisType,
        /// <summary>Of this type, but the attribute refuses it: an error.</summary>
        Rejected,
        Parsed,
    }

    private static Outcome TryType(AttributeSpec spec, DataType type, string text, out TypedValue? value, out string? reason)
    {
        value = null;
        reason = null;
        switch (type)
        {
            case DataType.UInt8:
            case DataType.UInt16:
            case DataType.UInt32:
            case DataType.UInt8Hex:
            case DataType.UInt16Hex:
            case DataType.UInt32Hex:
                return TryNumber(spec, type, text, out value, out reason);

            case DataType.MacAddress:
            case DataType.MacMask:
            {
                Span<byte> mac = stackalloc byte[6];
                if (!TextParsers.TryParseMac(text, mac))
                {
                    reason = "not a MAC address";
                    return Outcome.NotThisType;
                }
                var prefix = TextParsers.PrefixLength(mac);
                if (type == DataType.MacMask && prefix < 0)
                {
                    reason = "a MAC mask must be contiguous ones followed by zeros";
                    return Outcome.Rejected;
                }
                value = new TypedValue(type, TextParsers.FormatMac(mac))
                {
                    Mac = new PhysicalAddress(mac.ToArray()),
                    Number = type == DataType.MacMask ? (ulong)prefix : 0,
                };
                return Outcome.Parsed;
            }

            case DataType.IPv4Address:
                if (!TextParsers.TryParseIPv4(text, out var v4))
                {
                    reason = "not an IPv4 address in dotted-quad form";
                    return Outcome.NotThisType;
                }
                value = new TypedValue(type, TextParsers.FormatAddress(v4!)) { Address = v4 };
                return Outcome.Parsed;

            case DataType.IPv6Address:
                if (!TextParsers.TryParseIPv6(text, out var v6))
                {
                    reason = "not an IPv6 address";
                    return Outcome.NotThisType;
                }
                value = new TypedValue(type, TextParsers.FormatAddress(v6!)) { Address = v6 };
                return Outcome.Parsed;

            case DataType.IPv4Mask:
            case DataType.IPv6Mask:
                return TryMask(type, text, out value, out reason);

            case DataType.String:
                return TryString(spec, text, out value, out reason);

            case DataType.StringCopy:
            {
                var max = spec.MaxLength ?? int.MaxValue;
                var kept = text;
                if (kept.Length > max)
                {
                    var cut = max;
                    if (char.IsHighSurrogate(kept[cut - 1]))
                    {
                        cut--;
                    }
                    kept = kept[..cut];
                }
                value = new TypedValue(type, kept);
                return Outcome.Parsed;
            }

            case DataType.Boolean:
            {
                var b = text is "true" or "1" or "yes";
                value = new TypedValue(type, b ? "true" : "false") { Number = b ? 1UL : 0UL };
                return Outcome.Parsed;
            }

            case DataType.IpSetName:
                return TryIpSetName(text, out value, out reason);

            case DataType.IpSetFlags:
                return TryIpSetFlags(text, out value, out reason);

            default:
                reason = "unsupported datatype";
                return Outcome.NotThisType;
        }
    }

    private static Outcome TryNumber(AttributeSpec spec, DataType type, string text, out TypedValue? value, out string? reason)
    {
        value = null;
        reason = null;
        var hex = type is DataType.UInt8Hex or DataType.UInt16Hex or DataType.UInt32Hex;
        ulong limit = type switch
        {
            DataType.UInt8 or DataType.UInt8Hex => byte.MaxValue,
            DataType.UInt16 or DataType.UInt16Hex => ushort.MaxValue,
            _ => uint.MaxValue,
        };
        if (!TextParsers.TryParseUInt32(text, hex ? 16 : 10, out var n))
        {
            reason = hex ? "not a hexadecimal number" : "not a number";
            return Outcome.NotThisType;
        }
        if (n > limit)
        {
            reason = $"{n} is greater than {limit}";
            return Outcome.NotThisType;
        }
        if (n < spec.Min)
        {
            reason = $"the smallest value allowed is {FormatNumber(spec.Min, hex && spec.Min > 9)}";
            return Outcome.Rejected;
        }
        if (spec.Max is { } max && n > max)
        {
            reason = $"the largest value allowed is {max}";
            return Outcome.Rejected;
        }
        var textForm = FormatNumber(n, hex);
        var symbolic = false;
        if (spec.StringRule == StringRule.Symbol)
        {
            var name = SymbolName(spec, n);
            if (name is not null)
            {
                textForm = name;
            }
            else if (spec.UnnamedAsDecimal)
            {
                textForm = FormatNumber(n, false);
            }
        }
        value = new TypedValue(type, textForm) { Number = n, IsSymbolic = symbolic };
        return Outcome.Parsed;
    }

    private static string FormatNumber(ulong n, bool hex) => hex ? "0x" + n.ToString("x") : n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string? SymbolName(AttributeSpec spec, ulong n)
    {
        foreach (var (name, number) in spec.Symbols)
        {
            if (number == n)
            {
                return name;
            }
        }
        return null;
    }

    private static Outcome TryMask(DataType type, string text, out TypedValue? value, out string? reason)
    {
        value = null;
        reason = null;
        var v6 = type == DataType.IPv6Mask;
        var maxBits = v6 ? 128u : 32u;
        if (TextParsers.TryParseUInt32(text, 10, out var bits))
        {
            if (bits > maxBits)
            {
                reason = $"a prefix length is at most {maxBits}";
                return Outcome.NotThisType;
            }
            value = new TypedValue(type, bits.ToString(System.Globalization.CultureInfo.InvariantCulture)) { Number = bits };
            return Outcome.Parsed;
        }
        IPAddress? mask;
        if (!(v6 ? TextParsers.TryParseIPv6(text, out mask) : TextParsers.TryParseIPv4(text, out mask)))
        {
            reason = v6 ? "not a prefix length or an IPv6 mask" : "not a prefix length or a dotted IPv4 mask";
            return Outcome.NotThisType;
        }
        var prefix = TextParsers.PrefixLength(mask!.GetAddressBytes());
        if (prefix < 0)
        {
            reason = "the mask is not contiguous";
            return Outcome.NotThisType;
        }
        value = new TypedValue(type, prefix.ToString(System.Globalization.CultureInfo.InvariantCulture)) { Number = (ulong)prefix };
        return Outcome.Parsed;
    }

    private static Outcome TryString(AttributeSpec spec, string text, out TypedValue? value, out string? reason)
    {
        value = null;
        reason = null;
        switch (spec.StringRule)
        {
            case StringRule.Symbol:
                foreach (var (name, number) in spec.Symbols)
                {
                    if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
                    {
                        value = new TypedValue(DataType.String, name) { Number = number, IsSymbolic = true };
                        return Outcome.Parsed;
                    }
                }
                reason = "expected a number or one of " + string.Join(", ", spec.Symbols.Select(s => s.Key));
                return Outcome.Rejected;

            case StringRule.ConnectionState:
            {
                if (!TryParseItems(text, StateNames, ',', out var flags))
                {
                    reason = "expected a comma-separated list of NEW, ESTABLISHED, RELATED, INVALID, NONE";
                    return Outcome.Rejected;
                }
                if ((flags & StateNone) != 0)
                {
                    flags = StateNone;
                }
                value = new TypedValue(DataType.String, FormatItems(flags, StateNames)) { Number = flags };
                return Outcome.Parsed;
            }

            case StringRule.TcpFlags:
            {
                var slash = text.IndexOf('/');
                if (slash < 0 || !TryParseItems(text.AsSpan(0, slash), TcpFlagNames, ',', out var mask) ||
                    !TryParseItems(text.AsSpan(slash + 1), TcpFlagNames, ',', out var set))
                {
                    reason = "expected MASK/FLAGS, each a comma-separated list of FIN, SYN, RST, PSH, ACK, URG, ALL, NONE";
                    return Outcome.Rejected;
                }
                mask &= 0x3f;
                set &= 0x3f;
                value = new TypedValue(DataType.String, FormatTcpFlags(mask) + "/" + FormatTcpFlags(set)) { Number = (mask << 8) | set };
                return Outcome.Parsed;
            }

            default:
                reason = "no string form";
                return Outcome.NotThisType;
        }
    }

    private const ulong StateNone = 0x10;

    private static readonly (string Name, ulong Bits)[] StateNames =
        [("NEW", 0x1), ("ESTABLISHED", 0x2), ("RELATED", 0x4), ("INVALID", 0x8), ("NONE", StateNone)];

    private static readonly (string Name, ulong Bits)[] TcpFlagNames =
        [("FIN", 0x1), ("SYN", 0x2), ("RST", 0x4), ("PSH", 0x8), ("ACK", 0x10), ("URG", 0x20), ("ALL", 0x3f), ("NONE", 0)];

    /// <summary>
    /// libvirt's item-list parser: separators and white space are skipped, each item is matched case-insensitively as
    /// a prefix of the rest (so <c>NEWESTABLISHED</c> reads as two items, as in libvirt).
    /// </summary>
    private static bool TryParseItems(ReadOnlySpan<char> input, (string Name, ulong Bits)[] names, char separator, out ulong flags)
    {
        flags = 0;
        var i = 0;
        while (i < input.Length)
        {
            while (i < input.Length && (TextParsers.IsCSpace(input[i]) || input[i] == separator))
            {
                i++;
            }
            if (i >= input.Length)
            {
                break;
            }
            var found = false;
            foreach (var (name, bits) in names)
            {
                if (input[i..].StartsWith(name, StringComparison.OrdinalIgnoreCase))
                {
                    flags |= bits;
                    i += name.Length;
                    found = true;
                    break;
                }
            }
            if (!found)
            {
                return false;
            }
        }
        return true;
    }

    private static string FormatItems(ulong flags, (string Name, ulong Bits)[] names)
    {
        var sb = new StringBuilder();
        for (var bit = 1UL; bit != 0 && flags != 0; bit <<= 1)
        {
            if ((flags & bit) == 0)
            {
                continue;
            }
            foreach (var (name, bits) in names)
            {
                if (bits == bit)
                {
                    if (sb.Length > 0)
                    {
                        sb.Append(',');
                    }
                    sb.Append(name);
                }
            }
            flags ^= bit;
        }
        return sb.ToString();
    }

    private static string FormatTcpFlags(ulong flags) => flags switch
    {
        0 => "NONE",
        0x3f => "ALL",
        _ => FormatItems(flags, TcpFlagNames),
    };

    private const int MaxIpSetNameLength = 31;

    private static Outcome TryIpSetName(string text, out TypedValue? value, out string? reason)
    {
        value = null;
        if (text.Length is 0 or > MaxIpSetNameLength)
        {
            reason = text.Length == 0 ? "ipset name is empty" : "ipset name is too long";
            return Outcome.Rejected;
        }
        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or ':' or '-' or '+' or ' '))
            {
                reason = "ipset name contains invalid characters";
                return Outcome.Rejected;
            }
        }
        reason = null;
        value = new TypedValue(DataType.IpSetName, text);
        return Outcome.Parsed;
    }

    private static Outcome TryIpSetFlags(string text, out TypedValue? value, out string? reason)
    {
        value = null;
        reason = "malformed ipset flags";
        var sb = new StringBuilder();
        ulong srcBits = 0;
        var count = 0;
        var i = 0;
        while (count < 6)
        {
            var item = text.AsSpan(i);
            bool src;
            if (item.StartsWith("src", StringComparison.OrdinalIgnoreCase))
            {
                src = true;
            }
            else if (item.StartsWith("dst", StringComparison.OrdinalIgnoreCase))
            {
                src = false;
            }
            else
            {
                return Outcome.Rejected;
            }
            if (src)
            {
                srcBits |= 1UL << count;
            }
            if (count > 0)
            {
                sb.Append(',');
            }
            sb.Append(src ? "src" : "dst");
            count++;
            i += 3;
            if (i >= text.Length || text[i] != ',')
            {
                break;
            }
            i++;
        }
        if (i != text.Length)
        {
            return Outcome.Rejected;
        }
        reason = null;
        value = new TypedValue(DataType.IpSetFlags, sb.ToString()) { Number = srcBits };
        return Outcome.Parsed;
    }
}
