using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>The stable <see cref="Diagnostic.Code"/>s of the nftables backend.</summary>
internal static class NftablesCodes
{
    /// <summary>A rule uses an ipset: nft sets cannot refer to the kernel's ipsets.</summary>
    public const string IpSetUnsupported = "NftIpSetUnsupported";

    /// <summary>A rule matches something nft cannot express (an ARP gratuitous test, a mixed-family range).</summary>
    public const string MatchUnsupported = "NftMatchUnsupported";

    /// <summary>A comment nft cannot carry: a double quote or a control character (nft has no escape), or over 128 bytes.</summary>
    public const string CommentNotWritable = "NftCommentNotWritable";

    /// <summary>More ports than the 16-bit port ids of the packet mark can tell apart.</summary>
    public const string TooManyPorts = "NftTooManyPorts";

    /// <summary>The <c>nft</c> program failed; nothing was changed (one transaction).</summary>
    public const string NftFailed = "NftFailed";

    /// <summary>The <c>nft</c> program could not be run at all.</summary>
    public const string NftUnavailable = "NftUnavailable";

    /// <summary>NwFilter's tables hold something the applier cannot read back (a drifted or foreign object).</summary>
    public const string UnreadableState = "NftUnreadableState";

    internal static NwFilterException Unsupported(string code, FilterRule rule, string attribute, string message) =>
        new(Diagnostic.Error(code, message, DiagnosticCategory.InvalidData)
            with { Element = ProtocolSchema.Of(rule.Protocol).ElementName, Attribute = attribute });
}
