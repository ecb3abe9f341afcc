using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// The value parser the tests resolve with. A small stand-in for the schema's parser (branch xml) covering the types
/// the tests use; replaced by the real one once it is merged.
/// </summary>
public static class TestValues
{
    public static AttributeValueParser Parser { get; } = TryParse;

    public static ResolveOptions Options { get; } = new() { ValueParser = Parser };

    public static TypedValue Parse(AttributeSpec spec, string text) =>
        TryParse(spec, text, out var value, out var error) ? value : throw new FormatException(error);

    private static bool TryParse(AttributeSpec spec, string text, out TypedValue value, out string? error)
    {
        foreach (var type in Enum.GetValues<DataType>())
        {
            if (type != DataType.None && (spec.Types & type) != 0 && TryType(spec, type, text) is { } parsed)
            {
                value = parsed;
                error = null;
                return true;
            }
        }
        value = null!;
        error = $"{spec.Name} has illegal value {text}";
        return false;
    }

    private static TypedValue? TryType(AttributeSpec spec, DataType type, string text)
    {
        switch (type)
        {
            case DataType.UInt8 or DataType.UInt16 or DataType.UInt32:
                return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && InRange(spec, type, n)
                    ? new TypedValue(type, n.ToString(CultureInfo.InvariantCulture)) { Number = n } : null;
            case DataType.UInt8Hex or DataType.UInt16Hex or DataType.UInt32Hex:
                var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
                return ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h) && InRange(spec, type, h)
                    ? new TypedValue(type, "0x" + h.ToString("x", CultureInfo.InvariantCulture)) { Number = h } : null;
            case DataType.MacAddress or DataType.MacMask:
                var parts = text.Split(':');
                if (parts.Length != 6 || !parts.All(p => p.Length is 1 or 2 && p.All(Uri.IsHexDigit)))
                {
                    return null;
                }
                return new TypedValue(type, string.Join(':', parts.Select(p => p.PadLeft(2, '0').ToLowerInvariant())));
            case DataType.IPv4Address or DataType.IPv6Address:
                var family = type == DataType.IPv4Address ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                if ((type == DataType.IPv4Address ? text.Count(c => c == '.') != 3 : !text.Contains(':')) ||
                    !IPAddress.TryParse(text, out var address) || address.AddressFamily != family)
                {
                    return null;
                }
                return new TypedValue(type, address.ToString()) { Address = address };
            case DataType.IPv4Mask or DataType.IPv6Mask:
                var max = type == DataType.IPv4Mask ? 32 : 128;
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) && prefix <= max)
                {
                    return new TypedValue(type, prefix.ToString(CultureInfo.InvariantCulture)) { Number = (ulong)prefix };
                }
                if (!IPAddress.TryParse(text, out var mask))
                {
                    return null;
                }
                var bits = string.Concat(mask.GetAddressBytes().Select(b => Convert.ToString(b, 2).PadLeft(8, '0')));
                var ones = bits.IndexOf('0') is var z && z < 0 ? bits.Length : z;
                return bits.Length == max && !bits[ones..].Contains('1')
                    ? new TypedValue(type, ones.ToString(CultureInfo.InvariantCulture)) { Number = (ulong)ones } : null;
            case DataType.String when spec.StringRule == StringRule.Symbol:
                var symbol = spec.Symbols.FirstOrDefault(s => s.Key.Equals(text, StringComparison.OrdinalIgnoreCase));
                return symbol.Key is null ? null : new TypedValue(type, symbol.Key) { Number = symbol.Value, IsSymbolic = true };
            case DataType.String when spec.StringRule == StringRule.ConnectionState:
                var states = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToUpperInvariant()).ToArray();
                string[] known = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "NONE"];
                return states.Length > 0 && states.All(known.Contains)
                    ? new TypedValue(type, states.Contains("NONE") ? "NONE" : string.Join(',', known.Where(states.Contains))) : null;
            case DataType.String when spec.StringRule == StringRule.TcpFlags:
                return text.Contains('/') ? new TypedValue(type, text.ToUpperInvariant()) : null;
            case DataType.StringCopy:
                return new TypedValue(type, spec.MaxLength is { } length && text.Length > length ? text[..length] : text);
            case DataType.Boolean:
                return new TypedValue(type, text) { Number = text is "true" or "1" or "yes" ? 1UL : 0UL };
            case DataType.IpSetName:
                return text.Length is >= 1 and <= 31 && text.All(c => char.IsAsciiLetterOrDigit(c) || "_.:+ -".Contains(c))
                    ? new TypedValue(type, text) : null;
            case DataType.IpSetFlags:
                var flags = text.Split(',').Select(f => f.ToLowerInvariant()).ToArray();
                return flags.Length is >= 1 and <= 6 && flags.All(f => f is "src" or "dst") ? new TypedValue(type, string.Join(',', flags)) : null;
            default:
                return null;
        }
    }

    private static bool InRange(AttributeSpec spec, DataType type, ulong n)
    {
        var max = type switch
        {
            DataType.UInt8 or DataType.UInt8Hex => 0xffUL,
            DataType.UInt16 or DataType.UInt16Hex => 0xffffUL,
            _ => 0xffffffffUL,
        };
        return n >= spec.Min && n <= Math.Min(max, spec.Max ?? max);
    }
}
