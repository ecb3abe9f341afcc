using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NwFilter.Core.Schema;

/// <summary>
/// The low-level literal parsers libvirt uses for nwfilter values, each accepting exactly what libvirt accepts (or
/// less, where libvirt's acceptance is an accident of the C library): numbers as <c>strtoul</c> reads them, MACs as
/// <c>virMacAddrParse</c>, dotted-quad IPv4, colon IPv6, UUIDs as <c>virUUIDParse</c>, and the inet_ntop text form.
/// </summary>
internal static class TextParsers
{
    /// <summary>
    /// An unsigned number as libvirt's <c>virStrToLong_ui</c> reads it: optional leading white space and <c>+</c>,
    /// digits in <paramref name="radix"/> (10 or 16; base 16 allows a <c>0x</c> prefix), nothing after, at most
    /// 2^32-1. Unlike libvirt, a minus sign is refused (libvirt wraps <c>-1</c> to 4294967295).
    /// </summary>
    public static bool TryParseUInt32(ReadOnlySpan<char> text, int radix, out uint value)
    {
        value = 0;
        var i = 0;
        while (i < text.Length && IsCSpace(text[i]))
        {
            i++;
        }
        if (i < text.Length && text[i] == '+')
        {
            i++;
        }
        if (radix == 16 && i + 2 < text.Length && text[i] == '0' && text[i + 1] is 'x' or 'X' && IsHex(text[i + 2]))
        {
            i += 2;
        }
        var start = i;
        ulong acc = 0;
        for (; i < text.Length; i++)
        {
            var d = DigitValue(text[i]);
            if (d < 0 || d >= radix)
            {
                return false;
            }
            acc = acc * (ulong)radix + (ulong)d;
            if (acc > uint.MaxValue)
            {
                return false;
            }
        }
        if (i == start)
        {
            return false;
        }
        value = (uint)acc;
        return true;
    }

    /// <summary>
    /// A signed integer as libvirt's <c>virStrToLong_i</c> reads it (priorities): optional leading white space, an
    /// optional sign, decimal digits, nothing after.
    /// </summary>
    public static bool TryParseInt32(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        var i = 0;
        while (i < text.Length && IsCSpace(text[i]))
        {
            i++;
        }
        var negative = false;
        if (i < text.Length && text[i] is '+' or '-')
        {
            negative = text[i] == '-';
            i++;
        }
        var start = i;
        long acc = 0;
        for (; i < text.Length; i++)
        {
            if (text[i] is < '0' or > '9')
            {
                return false;
            }
            acc = acc * 10 + (text[i] - '0');
            if (acc > (long)int.MaxValue + 1)
            {
                return false;
            }
        }
        if (i == start)
        {
            return false;
        }
        acc = negative ? -acc : acc;
        if (acc > int.MaxValue || acc < int.MinValue)
        {
            return false;
        }
        value = (int)acc;
        return true;
    }

    /// <summary>
    /// A MAC address as libvirt's <c>virMacAddrParse</c> reads it: six groups of one or two hex digits separated by
    /// colons (<c>1:2:3:4:5:6</c> is accepted). libvirt also tolerates anything after white space following the last
    /// group; that is refused here.
    /// </summary>
    public static bool TryParseMac(ReadOnlySpan<char> text, Span<byte> mac)
    {
        var i = 0;
        for (var part = 0; part < 6; part++)
        {
            var start = i;
            var v = 0;
            while (i < text.Length && i - start < 3 && IsHex(text[i]))
            {
                v = v * 16 + DigitValue(text[i]);
                i++;
            }
            var len = i - start;
            if (len is < 1 or > 2)
            {
                return false;
            }
            mac[part] = (byte)v;
            if (part < 5)
            {
                if (i >= text.Length || text[i] != ':')
                {
                    return false;
                }
                i++;
            }
        }
        return i == text.Length;
    }

    /// <summary>Formats a MAC address as libvirt does: lower-case, two digits per byte, colon-separated.</summary>
    public static string FormatMac(ReadOnlySpan<byte> mac)
    {
        Span<char> buf = stackalloc char[17];
        for (var i = 0; i < 6; i++)
        {
            buf[i * 3] = HexDigit(mac[i] >> 4);
            buf[i * 3 + 1] = HexDigit(mac[i] & 0xf);
            if (i < 5)
            {
                buf[i * 3 + 2] = ':';
            }
        }
        return new string(buf);
    }

    /// <summary>
    /// An IPv4 address in dotted-quad form only: four decimal parts 0..255 without leading zeros. (The C library
    /// libvirt uses would also take <c>1.2.3</c>, <c>0x7f.1</c> or a bare integer; those forms are refused.)
    /// </summary>
    public static bool TryParseIPv4(ReadOnlySpan<char> text, Span<byte> address)
    {
        var i = 0;
        for (var part = 0; part < 4; part++)
        {
            var start = i;
            var v = 0;
            while (i < text.Length && text[i] is >= '0' and <= '9' && i - start < 4)
            {
                v = v * 10 + (text[i] - '0');
                i++;
            }
            var len = i - start;
            if (len is < 1 or > 3 || v > 255 || (len > 1 && text[start] == '0'))
            {
                return false;
            }
            address[part] = (byte)v;
            if (part < 3)
            {
                if (i >= text.Length || text[i] != '.')
                {
                    return false;
                }
                i++;
            }
        }
        return i == text.Length;
    }

    /// <summary>An IPv4 address in dotted-quad form (see <see cref="TryParseIPv4(ReadOnlySpan{char}, Span{byte})"/>).</summary>
    public static bool TryParseIPv4(ReadOnlySpan<char> text, out IPAddress? address)
    {
        Span<byte> b = stackalloc byte[4];
        address = TryParseIPv4(text, b) ? new IPAddress(b) : null;
        return address is not null;
    }

    /// <summary>
    /// An IPv6 address in colon form (with an optional trailing dotted IPv4 part). Zone ids, brackets, prefixes and
    /// white space are refused.
    /// </summary>
    public static bool TryParseIPv6(ReadOnlySpan<char> text, out IPAddress? address)
    {
        address = null;
        if (text.Length is < 2 or > 45 || text.IndexOf(':') < 0)
        {
            return false;
        }
        foreach (var c in text)
        {
            if (!(IsHex(c) || c == ':' || c == '.'))
            {
                return false;
            }
        }
        var dot = text.IndexOf('.');
        if (dot >= 0)
        {
            // The IPv4 tail must be a strict dotted quad after the last colon.
            var lastColon = text.LastIndexOf(':');
            Span<byte> v4 = stackalloc byte[4];
            if (dot < lastColon || !TryParseIPv4(text[(lastColon + 1)..], v4))
            {
                return false;
            }
        }
        if (!IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6 || parsed.ScopeId != 0)
        {
            return false;
        }
        address = parsed;
        return true;
    }

    /// <summary>The text form of an address as glibc's <c>inet_ntop</c> prints it.</summary>
    public static string FormatAddress(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return address.ToString();
        }
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        Span<int> words = stackalloc int[8];
        for (var i = 0; i < 8; i++)
        {
            words[i] = (b[2 * i] << 8) | b[2 * i + 1];
        }
        // The longest run of two or more zero words (the first of equal runs) becomes "::".
        int bestBase = -1, bestLen = 0, curBase = -1, curLen = 0;
        for (var i = 0; i < 8; i++)
        {
            if (words[i] == 0)
            {
                if (curBase < 0)
                {
                    curBase = i;
                    curLen = 1;
                }
                else
                {
                    curLen++;
                }
            }
            else if (curBase >= 0)
            {
                if (curLen > bestLen)
                {
                    (bestBase, bestLen) = (curBase, curLen);
                }
                curBase = -1;
            }
        }
        if (curBase >= 0 && curLen > bestLen)
        {
            (bestBase, bestLen) = (curBase, curLen);
        }
        if (bestLen < 2)
        {
            bestBase = -1;
        }
        var sb = new StringBuilder(40);
        for (var i = 0; i < 8; i++)
        {
            if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen)
            {
                if (i == bestBase)
                {
                    sb.Append(':');
                }
                continue;
            }
            if (i != 0)
            {
                sb.Append(':');
            }
            if (i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff)))
            {
                sb.Append(b[12]).Append('.').Append(b[13]).Append('.').Append(b[14]).Append('.').Append(b[15]);
                return sb.ToString();
            }
            sb.Append(words[i].ToString("x"));
        }
        if (bestBase >= 0 && bestBase + bestLen == 8)
        {
            sb.Append(':');
        }
        return sb.ToString();
    }

    /// <summary>
    /// The prefix length of a mask (leading ones, then only zeros), or -1 when the mask is not contiguous.
    /// </summary>
    public static int PrefixLength(ReadOnlySpan<byte> mask)
    {
        var bits = 0;
        var i = 0;
        for (; i < mask.Length && mask[i] == 0xff; i++)
        {
            bits += 8;
        }
        if (i < mask.Length)
        {
            var m = mask[i];
            var ones = System.Numerics.BitOperations.LeadingZeroCount((uint)(byte)~m) - 24;
            if ((byte)(m << ones) != 0)
            {
                return -1;
            }
            bits += ones;
            for (i++; i < mask.Length; i++)
            {
                if (mask[i] != 0)
                {
                    return -1;
                }
            }
        }
        return bits;
    }

    /// <summary>
    /// A UUID as libvirt's <c>virUUIDParse</c> reads it: optional white space around, 32 hex digits, with dashes or
    /// spaces allowed between the byte pairs.
    /// </summary>
    public static bool TryParseUuid(ReadOnlySpan<char> text, out Guid uuid)
    {
        uuid = Guid.Empty;
        Span<char> hex = stackalloc char[32];
        var i = 0;
        while (i < text.Length && IsCSpace(text[i]))
        {
            i++;
        }
        var n = 0;
        while (n < 32)
        {
            if (i >= text.Length)
            {
                return false;
            }
            if (text[i] is '-' or ' ')
            {
                i++;
                continue;
            }
            if (i + 1 >= text.Length || !IsHex(text[i]) || !IsHex(text[i + 1]))
            {
                return false;
            }
            hex[n++] = text[i++];
            hex[n++] = text[i++];
        }
        for (; i < text.Length; i++)
        {
            if (!IsCSpace(text[i]))
            {
                return false;
            }
        }
        return Guid.TryParseExact(hex, "N", out uuid);
    }

    internal static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    internal static bool IsHex(char c) => c is (>= '0' and <= '9') or (>= 'a' and <= 'f') or (>= 'A' and <= 'F');

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    private static char HexDigit(int v) => (char)(v < 10 ? '0' + v : 'a' + v - 10);
}
