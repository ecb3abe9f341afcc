using System.Globalization;
using System.Text;
using System.Text.Json;
using NwFilter.Core.Lowering;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>What a provenance comment says by itself (docs/design/nftables.md: provenance).</summary>
/// <param name="Ordinal">The rule instance's index in the port's compile.</param>
/// <param name="RulePriority">The rule's priority.</param>
/// <param name="FilterName">The filter's name, or its beginning when <paramref name="NameTruncated"/>.</param>
/// <param name="NameTruncated">True when the name did not fit into nft's 128 bytes.</param>
/// <param name="UserComment">The rule's own comment (as much of it as fit), or null.</param>
internal sealed record NftCommentProvenance(int Ordinal, int RulePriority, string FilterName, bool NameTruncated, string? UserComment)
{
    public int Ordinal { get; internal init; } = Ordinal;
    public int RulePriority { get; internal init; } = RulePriority;
    public string FilterName { get; internal init; } = FilterName;
    public bool NameTruncated { get; internal init; } = NameTruncated;
    public string? UserComment { get; internal init; } = UserComment;
}

/// <summary>One rule as the kernel lists it (<c>nft -j list ruleset</c>).</summary>
internal sealed record NftKernelRule(string Family, string Table, string Chain, long Handle, string? Comment)
{
    public string Family { get; internal init; } = Family;
    public string Table { get; internal init; } = Table;
    public string Chain { get; internal init; } = Chain;
    public long Handle { get; internal init; } = Handle;
    public string? Comment { get; internal init; } = Comment;

    /// <summary>The rule's <c>counter</c> statement's packets; null when it has none.</summary>
    public long? Packets { get; internal init; }

    /// <summary>The rule's <c>counter</c> statement's bytes; null when it has none.</summary>
    public long? Bytes { get; internal init; }
}

/// <summary>A kernel rule of a port mapped back: its chain's role and, for a rule made from a rule instance, its origin.</summary>
/// <param name="Rule">The kernel rule (its handle identifies it for counters and trace).</param>
/// <param name="Role">The role of its chain (<c>I</c>, <c>O-arp</c>, <c>FI</c>, ...).</param>
/// <param name="Origin">The rule instance it came from; null for NwFilter's own rules (jumps, marks) or a comment the
/// compiled ruleset does not know (a rule someone else added, or a ruleset compiled from other filters).</param>
internal sealed record NftRuleProvenance(NftKernelRule Rule, string Role, RuleOrigin? Origin)
{
    public NftKernelRule Rule { get; internal init; } = Rule;
    public string Role { get; internal init; } = Role;
    public RuleOrigin? Origin { get; internal init; } = Origin;
}

/// <summary>
/// Rule provenance in nftables: every rule made from a rule instance carries the comment
/// <c>nwf:ORDINAL PRIORITY FILTER[ USER-COMMENT]</c> (ordinal: the instance's index in the port's compile; FILTER
/// percent-encoded so it holds no blank, quote or non-ASCII byte, ending in <c>*</c> when cut to fit; then as much of
/// the rule's own comment as fits nft's 128 bytes). The comment shows in <c>nft list ruleset</c> and in
/// <c>nft monitor trace</c>; <see cref="Map"/> maps the kernel's rules of a port back to their rule instances.
/// </summary>
internal static class NftProvenance
{
    /// <summary>What every provenance comment starts with.</summary>
    public const string Prefix = "nwf:";

    /// <summary>The comment of a rule made from <paramref name="origin"/>, with the rule's own (checked) comment.</summary>
    public static string Comment(RuleOrigin origin, string? userComment)
    {
        ArgumentNullException.ThrowIfNull(origin);
        var text = new StringBuilder(64);
        text.Append(Prefix).Append(origin.Ordinal.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(origin.RulePriority.ToString(CultureInfo.InvariantCulture)).Append(' ');
        var budget = NftValues.MaxCommentBytes - text.Length;
        var name = Escape(origin.FilterName);
        if (name.Length > budget)
        {
            var cut = budget - 1;
            // Never cut inside a %XX escape.
            if (cut >= 1 && name[cut - 1] == '%')
            {
                cut -= 1;
            }
            else if (cut >= 2 && name[cut - 2] == '%')
            {
                cut -= 2;
            }
            text.Append(name, 0, cut).Append('*');
            return text.ToString();
        }
        text.Append(name);
        if (userComment is not null && text.Length + 2 <= NftValues.MaxCommentBytes)
        {
            text.Append(' ');
            var room = NftValues.MaxCommentBytes - text.Length;
            foreach (var rune in userComment.EnumerateRunes())
            {
                room -= rune.Utf8SequenceLength;
                if (room < 0)
                {
                    break;
                }
                text.Append(rune.ToString());
            }
        }
        return text.ToString();
    }

    /// <summary>Reads a provenance comment; false when <paramref name="comment"/> is not one.</summary>
    public static bool TryParse(string? comment, out NftCommentProvenance? provenance)
    {
        provenance = null;
        if (comment is null || !comment.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var parts = comment[Prefix.Length..].Split(' ', 4);
        if (parts.Length < 3 ||
            !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ordinal) ||
            !int.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var priority) ||
            parts[2].Length == 0)
        {
            return false;
        }
        var truncated = parts[2].EndsWith('*');
        var name = Unescape(truncated ? parts[2][..^1] : parts[2]);
        if (name is null)
        {
            return false;
        }
        provenance = new NftCommentProvenance(ordinal, priority, name, truncated, parts.Length == 4 ? parts[3] : null);
        return true;
    }

    /// <summary>The rules of <c>nft -j list ruleset</c> (or <c>list table</c>, <c>list chain</c>) output.</summary>
    public static IReadOnlyList<NftKernelRule> ReadRules(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var rules = new List<NftKernelRule>();
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("nftables", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("The text is not nft's JSON output: it has no 'nftables' array.");
        }
        foreach (var item in items.EnumerateArray())
        {
            if (!item.TryGetProperty("rule", out var rule))
            {
                continue;
            }
            long? packets = null, bytes = null;
            if (rule.TryGetProperty("expr", out var expressions) && expressions.ValueKind == JsonValueKind.Array)
            {
                foreach (var expression in expressions.EnumerateArray())
                {
                    if (expression.ValueKind == JsonValueKind.Object && expression.TryGetProperty("counter", out var counter) &&
                        counter.ValueKind == JsonValueKind.Object && counter.TryGetProperty("packets", out var p) && counter.TryGetProperty("bytes", out var b))
                    {
                        packets = (packets ?? 0) + p.GetInt64();
                        bytes = (bytes ?? 0) + b.GetInt64();
                    }
                }
            }
            rules.Add(new NftKernelRule(
                rule.GetProperty("family").GetString()!,
                rule.GetProperty("table").GetString()!,
                rule.GetProperty("chain").GetString()!,
                rule.GetProperty("handle").GetInt64(),
                rule.TryGetProperty("comment", out var comment) ? comment.GetString() : null) { Packets = packets, Bytes = bytes });
        }
        return rules;
    }

    /// <summary>
    /// Maps the kernel's rules of <paramref name="compiled"/>'s port (any id and generation; other ports' and NwFilter's
    /// base chains' rules are skipped) back to their rule instances, in the kernel's order. A rule maps when its comment
    /// is exactly the comment of a rule of <paramref name="compiled"/> (so a ruleset compiled from changed filters, or
    /// a rule someone else added, maps to no origin rather than to a wrong one).
    /// </summary>
    public static IReadOnlyList<NftRuleProvenance> Map(NftPortRuleset compiled, IEnumerable<NftKernelRule> kernelRules)
    {
        ArgumentNullException.ThrowIfNull(compiled);
        ArgumentNullException.ThrowIfNull(kernelRules);
        var byComment = new Dictionary<string, RuleOrigin>(StringComparer.Ordinal);
        foreach (var rule in compiled.Chains.SelectMany(c => c.Rules))
        {
            if (rule is { Origin: { } origin, Comment: { } comment })
            {
                byComment.TryAdd(comment, origin);
            }
        }
        var mapped = new List<NftRuleProvenance>();
        foreach (var rule in kernelRules)
        {
            if (rule.Table != NftNames.Table ||
                !NftNames.TryParseChain(rule.Chain, out var port, out _, out _, out var role) || port != compiled.PortDevice)
            {
                continue;
            }
            mapped.Add(new NftRuleProvenance(rule, role,
                rule.Comment is { } comment && byComment.TryGetValue(comment, out var origin) ? origin : null));
        }
        return mapped;
    }

    private static string Escape(string name)
    {
        var text = new StringBuilder(name.Length + 8);
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            if (b is > 0x20 and < 0x7f and not (byte)'%' and not (byte)'"' and not (byte)'*')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }
        return text.ToString();
    }

    private static string? Unescape(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] > 0x7e)
            {
                return null;
            }
            if (text[i] != '%')
            {
                bytes.Add((byte)text[i]);
                continue;
            }
            if (i + 2 >= text.Length)
            {
                return null;
            }
            if (!byte.TryParse(text.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                return null;
            }
            bytes.Add(b);
            i += 2;
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
