using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NwFilter.Core.Tests.TestSupport.Parity;

/// <summary>
/// One firewall rule in a form both backends can be compared in: the chain it is in (by role: <c>I</c>, <c>O</c>,
/// <c>I-SUFFIX</c>, <c>O-SUFFIX</c> for Ethernet rules; <c>FI ipv4</c>, <c>FO ipv6</c>, <c>HI ipv4</c>... for layer-4
/// rules), its matches (field, operator, canonical value; sorted, since a rule's matches are a conjunction) and its
/// verdict. <see cref="XtablesRuleParser"/> derives it from ebtables/iptables/ip6tables arguments and
/// <see cref="NftRuleParser"/> from nft rule text; neither uses production code.
/// </summary>
internal sealed record StructuralRule(string Chain, IReadOnlyList<string> Matches, string Verdict)
{
    public static StructuralRule Create(string chain, IEnumerable<string> matches, string verdict) =>
        new(chain, [.. matches.Order(StringComparer.Ordinal)], verdict);

    public override string ToString() => (Matches.Count == 0 ? "(any)" : string.Join(" ", Matches)) + " -> " + Verdict;

    public bool Equals(StructuralRule? other) =>
        other is not null && Chain == other.Chain && Verdict == other.Verdict && Matches.SequenceEqual(other.Matches);

    public override int GetHashCode() => HashCode.Combine(Chain, Verdict, Matches.Count);
}

/// <summary>One match of a rule while it is parsed: <c>field=value</c> or <c>field!=value</c>.</summary>
internal readonly record struct FieldMatch(string Field, bool Negated, string Value)
{
    public override string ToString() => Field + (Negated ? "!=" : "=") + Value;
}

/// <summary>The canonical spelling of values, shared by both parsers (test code only).</summary>
internal static class Canonical
{
    /// <summary>A number written in decimal or <c>0x</c> hex.</summary>
    public static long Number(string text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);

    public static string Decimal(string text) => Number(text).ToString(CultureInfo.InvariantCulture);

    public static string Hex16(string text) => "0x" + Number(text).ToString("x4", CultureInfo.InvariantCulture);

    public static string Hex8(string text) => "0x" + Number(text).ToString("x2", CultureInfo.InvariantCulture);

    /// <summary>A decimal range <c>LO-HI</c> from <c>LO</c>, <c>LO:HI</c> or <c>LO-HI</c>; <c>N-N</c> is <c>N</c>.</summary>
    public static string Range(string text)
    {
        var parts = text.Split(':', '-');
        if (parts.Length == 1)
        {
            return Decimal(parts[0]);
        }
        var (lo, hi) = (Decimal(parts[0]), Decimal(parts[1]));
        return lo == hi ? lo : lo + "-" + hi;
    }

    /// <summary>A MAC address, masked when a mask is given (as both ebtables and our nft rules compare); a full mask is no mask.</summary>
    public static string Mac(string address, string? mask = null)
    {
        var bytes = MacBytes(address);
        if (mask is null || mask.Equals("ff:ff:ff:ff:ff:ff", StringComparison.OrdinalIgnoreCase))
        {
            return Format(bytes);
        }
        var m = MacBytes(mask);
        return Format([.. bytes.Select((b, i) => (byte)(b & m[i]))]) + "/" + Format(m);

        static string Format(byte[] b) => string.Join(":", b.Select(x => x.ToString("x2", CultureInfo.InvariantCulture)));
    }

    /// <summary>48 bits written as <c>0x</c> and 12 hex digits (nft raw payload) as a MAC address.</summary>
    public static string MacFromHex(string hex)
    {
        var digits = hex[2..].PadLeft(12, '0');
        return string.Join(":", Enumerable.Range(0, 6).Select(i => digits.Substring(i * 2, 2))).ToLowerInvariant();
    }

    /// <summary>32 bits written as a number (nft raw payload) as an IPv4 address.</summary>
    public static string Ipv4FromNumber(string text)
    {
        var n = (uint)Number(text);
        return Network(new IPAddress([(byte)(n >> 24), (byte)(n >> 16), (byte)(n >> 8), (byte)n]).ToString());
    }

    /// <summary>
    /// An address with an optional prefix as the network the kernel compares (the address masked by the prefix,
    /// <c>/32</c> or <c>/128</c> when none): ebtables and iptables mask the address they are given, nft is given it
    /// masked. A range <c>A-B</c> is kept as a range of canonical addresses.
    /// </summary>
    public static string Network(string text)
    {
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0)
        {
            return IPAddress.Parse(text[..dash]) + "-" + IPAddress.Parse(text[(dash + 1)..]);
        }
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var address = IPAddress.Parse(slash < 0 ? text : text[..slash]);
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = slash < 0 ? bits : int.Parse(text[(slash + 1)..], CultureInfo.InvariantCulture);
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xff << (8 - keep));
        }
        return new IPAddress(bytes) + "/" + prefix.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A layer-4 protocol by number (<c>all</c>: null, no match).</summary>
    public static string? Protocol(string text) => text.ToLowerInvariant() switch
    {
        "all" => null,
        "icmp" => "1",
        "igmp" => "2",
        "tcp" => "6",
        "udp" => "17",
        "esp" => "50",
        "ah" => "51",
        "icmpv6" or "ipv6-icmp" => "58",
        "sctp" => "132",
        "udplite" => "136",
        var other => Decimal(other),
    };

    /// <summary>A connection-state list, lower case and sorted.</summary>
    public static string States(string text) =>
        string.Join(",", text.ToLowerInvariant().Split(',', StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));

    private static readonly string[] AllTcpFlags = ["ack", "fin", "psh", "rst", "syn", "urg"];

    /// <summary>A set of TCP flags, lower case and sorted (<c>ALL</c> is all six, <c>NONE</c> and <c>0x0</c> none).</summary>
    public static string TcpFlags(IEnumerable<string> flags)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var flag in flags.Select(f => f.ToLowerInvariant()))
        {
            switch (flag)
            {
                case "all":
                    set.UnionWith(AllTcpFlags);
                    break;
                case "none" or "0x0" or "0":
                    break;
                case var f when AllTcpFlags.Contains(f):
                    set.Add(f);
                    break;
                default:
                    throw new FormatException($"unknown TCP flag '{flag}'");
            }
        }
        return set.Count == 0 ? "none" : string.Join(",", set);
    }

    private static byte[] MacBytes(string text) =>
        [.. text.Split(':').Select(p => byte.Parse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture))];
}
