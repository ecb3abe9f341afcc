using System.Globalization;
using System.Text;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// The names of NwFilter's nftables objects (docs/design/nftables.md, "Layout"). Two tables, both called
/// <c>nwfilter</c>: <c>bridge nwfilter</c> (Ethernet rules, and the marks that tell the inet table which port a packet
/// came from and goes to) and <c>inet nwfilter</c> (layer-4 rules with connection tracking, reached through
/// br_netfilter). Per-port chains are named <c>PORT/ID/GEN/ROLE</c>.
/// </summary>
/// <remarks>
/// nft 1.0.6 takes chain and map names only as bare words: a letter, <c>_</c> or <c>.</c>, then letters, digits and
/// <c>/ - _ .</c>; a quoted name is a syntax error, and a word that is a keyword (<c>fwd</c>, <c>ip</c>) is one too.
/// Interface names can never hold <c>/</c>, so it separates the parts, and no per-port name can be a keyword.
/// Everything else that is not a letter, digit, <c>-</c> or <c>.</c> is escaped as <c>_xx</c> (hex of each UTF-8
/// byte), <c>_</c> itself as <c>__</c>, a leading digit as <c>_3N</c>.
/// </remarks>
internal static class NftNames
{
    /// <summary>The table name in both families.</summary>
    public const string Table = "nwfilter";

    public const string BridgeFamily = "bridge";
    public const string InetFamily = "inet";

    // Base chains (hooked) and the verdict maps they dispatch through.
    public const string BridgePrerouting = "prerouting";
    public const string BridgeForward = "forward";
    public const string BridgePostrouting = "postrouting";
    public const string InetForward = "forward";
    public const string InetInput = "input";

    /// <summary>bridge: iifname → the port's from-VM chain (libvirt-I).</summary>
    public const string FromVmMap = "from-vm";
    /// <summary>bridge: oifname → the port's to-VM chain (libvirt-O).</summary>
    public const string ToVmMap = "to-vm";
    /// <summary>bridge: oifname → the port's chain that marks forwarded packets with the output port's id.</summary>
    public const string MarkToVmMap = "mark-to-vm";
    /// <summary>inet: input-port id (mark, low half) → the port's forwarded-from-VM chain (libvirt FI).</summary>
    public const string ForwardFromVmMap = "forward-from-vm";
    /// <summary>inet: output-port id (mark, high half) → the port's forwarded-to-VM chain (libvirt FO).</summary>
    public const string ForwardToVmMap = "forward-to-vm";
    /// <summary>inet: input-port id → the port's from-VM-to-host chain (libvirt HI).</summary>
    public const string InputFromVmMap = "input-from-vm";

    /// <summary>The mark bits carrying the input port's id.</summary>
    public const uint FromMask = 0x0000ffff;
    /// <summary>The mark bits carrying the output port's id.</summary>
    public const uint ToMask = 0xffff0000;
    public const int ToShift = 16;
    public const int MaxPortId = 0xffff;

    /// <summary>The hook priorities: ebtables' nat PREROUTING/POSTROUTING, before br_netfilter (0) in FORWARD, iptables' filter.</summary>
    public const int PreroutingPriority = -300;
    public const int BridgeForwardPriority = -200;
    public const int PostroutingPriority = 300;
    public const int InetPriority = 0;

    /// <summary>The name of one per-port chain: <c>PORT/ID/GEN/ROLE</c>.</summary>
    public static string Chain(string portDevice, int id, int generation, string role) =>
        string.Create(CultureInfo.InvariantCulture, $"{Escape(portDevice)}/{id}/{generation}/{role}");

    /// <summary>The role of a sub-chain: the root's role, <c>-</c>, the escaped libvirt chain suffix (<c>I-arp</c>).</summary>
    public static string SubChainRole(string rootRole, string suffix) => rootRole + "-" + Escape(suffix, leadingDigitAllowed: true);

    /// <summary>Reads a per-port chain name; false for names that are not ours (base chains, other shapes).</summary>
    public static bool TryParseChain(string name, out string portDevice, out int id, out int generation, out string role)
    {
        portDevice = role = string.Empty;
        id = generation = 0;
        var parts = name.Split('/');
        if (parts.Length != 4 || parts[3].Length == 0 ||
            !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out id) || id is < 1 or > MaxPortId ||
            !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out generation) || generation < 1 ||
            Unescape(parts[0]) is not { } port)
        {
            return false;
        }
        portDevice = port;
        role = parts[3];
        return true;
    }

    /// <summary>The mark value of an input port id (low half) or output port id (high half), as nft prints it.</summary>
    public static string FromMark(int id) => Hex32((uint)id);

    public static string ToMark(int id) => Hex32((uint)id << ToShift);

    public static string Hex32(uint value) => "0x" + value.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>Escapes text into the characters nft takes in a bare name (see the remarks).</summary>
    public static string Escape(string text, bool leadingDigitAllowed = false)
    {
        var result = new StringBuilder(text.Length + 4);
        var bytes = Encoding.UTF8.GetBytes(text);
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            var c = (char)b;
            var plain = b < 0x80 && (char.IsAsciiLetter(c) || c is '-' or '.' || (char.IsAsciiDigit(c) && (i > 0 || leadingDigitAllowed)));
            if (plain && !(i == 0 && c == '-'))
            {
                result.Append(c);
            }
            else if (c == '_')
            {
                result.Append("__");
            }
            else
            {
                result.Append('_').Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }
        }
        return result.ToString();
    }

    /// <summary>The inverse of <see cref="Escape"/>; null when the text is not an escaped name.</summary>
    public static string? Unescape(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '_')
            {
                if (c > 0x7f)
                {
                    return null;
                }
                bytes.Add((byte)c);
                continue;
            }
            if (i + 1 < text.Length && text[i + 1] == '_')
            {
                bytes.Add((byte)'_');
                i++;
                continue;
            }
            if (i + 2 >= text.Length ||
                !byte.TryParse(text.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            {
                return null;
            }
            bytes.Add(value);
            i += 2;
        }
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString([.. bytes]);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
