using System.Globalization;
using System.Net;
using System.Text;
using NwFilter.Core.Model;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// Writes a rule's bound literals as nft text. Every value comes from the typed payload that resolution validated
/// (numbers, parsed addresses, prefix lengths), never from the text as written, so nothing but digits, hex, dots and
/// colons reaches the script; only comments are free text, and <see cref="CheckComment"/> checks them.
/// </summary>
internal static class NftValues
{
    /// <summary>nft's limit on a comment (NFT_USERDATA comment), in bytes.</summary>
    public const int MaxCommentBytes = 128;

    /// <summary><c>EXPR [!=] VALUE</c>.</summary>
    public static void Compare(List<string> match, bool negated, string expression, string value) =>
        match.Add(negated ? $"{expression} != {value}" : $"{expression} {value}");

    /// <summary>A number in decimal.</summary>
    public static string Number(TypedValue value) => value.Number.ToString(CultureInfo.InvariantCulture);

    /// <summary>A number as <c>0x%04x</c> (ethertypes).</summary>
    public static string Hex16(TypedValue value) => "0x" + value.Number.ToString("x4", CultureInfo.InvariantCulture);

    /// <summary><c>LO</c> or <c>LO-HI</c> in decimal; HI only counts when given.</summary>
    public static string Range(TypedValue low, TypedValue? high) =>
        high is null || high.Number == low.Number ? Number(low) : $"{Number(low)}-{Number(high)}";

    /// <summary>A MAC address, lower case.</summary>
    public static string Mac(TypedValue value) => MacAddressText.Format(value.Mac!);

    /// <summary>An IP address in canonical text.</summary>
    public static string Ip(TypedValue value) => (value.Address ?? throw new ArgumentException("not an address", nameof(value))).ToString();

    /// <summary>
    /// An IP address with a prefix: the network address and the length (<c>10.1.0.0/22</c>), as the kernel matches it
    /// (ebtables and iptables mask the address too); a full-length prefix is the bare address.
    /// </summary>
    public static string Network(TypedValue address, TypedValue? prefix)
    {
        var ip = address.Address ?? throw new ArgumentException("not an address", nameof(address));
        var bytes = ip.GetAddressBytes();
        var bits = bytes.Length * 8;
        var length = prefix is null ? bits : (int)Math.Min((ulong)bits, prefix.Number);
        if (length == bits)
        {
            return ip.ToString();
        }
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(length - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xff << (8 - keep));
        }
        return $"{new IPAddress(bytes)}/{length}";
    }

    /// <summary>
    /// An Ethernet address match: <c>EXPR [!=] MAC</c>, or with a mask <c>EXPR and MASK [!=] MAC&amp;MASK</c> (ebtables
    /// compares both sides masked).
    /// </summary>
    public static void MacMatch(List<string> match, bool negated, string expression, TypedValue mac, TypedValue? mask)
    {
        var op = negated ? "!= " : "";
        if (mask is null || mask.Number >= 48)
        {
            match.Add($"{expression} {op}{Mac(mac)}");
            return;
        }
        var value = mac.Mac!.GetAddressBytes();
        var m = mask.Mac!.GetAddressBytes();
        for (var i = 0; i < value.Length; i++)
        {
            value[i] &= m[i];
        }
        match.Add($"{expression} and {MacAddressText.Format(mask.Mac)} {(op.Length == 0 ? "== " : op)}{MacAddressText.Format(new(value))}");
    }

    /// <summary>A 48-bit MAC as a raw-payload integer (<c>0x525400000000</c>), masked.</summary>
    public static string MacInteger(TypedValue mac, TypedValue? mask, out string? maskInteger)
    {
        var value = mac.Mac!.GetAddressBytes();
        maskInteger = null;
        if (mask is not null && mask.Number < 48)
        {
            var m = mask.Mac!.GetAddressBytes();
            for (var i = 0; i < value.Length; i++)
            {
                value[i] &= m[i];
            }
            maskInteger = "0x" + Convert.ToHexString(m).ToLowerInvariant();
        }
        return "0x" + Convert.ToHexString(value).ToLowerInvariant();
    }

    /// <summary>An IPv4 address (and prefix) as a raw-payload integer and mask.</summary>
    public static string Ipv4Integer(TypedValue address, TypedValue? prefix, out string? maskInteger)
    {
        var bytes = address.Address!.GetAddressBytes();
        var value = (uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]);
        var length = prefix is null ? 32 : (int)Math.Min(32UL, prefix.Number);
        maskInteger = null;
        if (length < 32)
        {
            var mask = length == 0 ? 0u : uint.MaxValue << (32 - length);
            value &= mask;
            maskInteger = NftNames.Hex32(mask);
        }
        return NftNames.Hex32(value);
    }

    /// <summary>
    /// Checks a rule's own comment for nft. nft 1.0.6 writes a comment as a double-quoted string with no escape at all
    /// and takes at most 128 bytes: a double quote, a line break or any other control character, or a longer comment is
    /// refused (a stray quote would end the string and let the rest be read as nft syntax). The kernel rule's comment is
    /// <see cref="NftProvenance.Comment"/>: the provenance, then as much of this text as fits.
    /// </summary>
    public static string? CheckComment(string? text, FilterRule rule)
    {
        if (text is null)
        {
            return null;
        }
        string? problem = null;
        if (text.Any(c => c == '"' || char.IsControl(c)))
        {
            problem = "it holds a double quote or a control character, which nft cannot write in a comment (its strings have no escape)";
        }
        else if (Encoding.UTF8.GetByteCount(text) > MaxCommentBytes)
        {
            problem = $"it is longer than the {MaxCommentBytes} bytes nft allows";
        }
        if (problem is not null)
        {
            throw NftablesCodes.Unsupported(NftablesCodes.CommentNotWritable, rule, "comment",
                $"The comment '{text}' cannot go into an nftables rule: {problem}. Change the comment, or use the ebiptables backend.");
        }
        return text;
    }
}
