using NwFilter.Core.Model;

namespace NwFilter.Core.Lowering;

/// <summary>Reads the bound literals of a rule instance's rule (every attribute must be a literal or absent).</summary>
internal static class RuleAttributes
{
    /// <summary>The literal of <paramref name="id"/>, or null when absent. A variable here is a caller bug.</summary>
    public static TypedValue? Get(FilterRule rule, AttributeId id)
    {
        foreach (var attribute in rule.Attributes)
        {
            if (attribute.Id == id)
            {
                return attribute.Value.Kind switch
                {
                    AttributeValueKind.Literal => attribute.Value.Literal,
                    AttributeValueKind.Absent => null,
                    _ => throw new InvalidOperationException($"Attribute {id} is still a variable ({attribute.Value.Variable}); resolve the rule first."),
                };
            }
        }
        return null;
    }

    public static bool Has(FilterRule rule, AttributeId id) => Get(rule, id) is not null;

    public static bool Negated(FilterRule rule, AttributeId id)
    {
        foreach (var attribute in rule.Attributes)
        {
            if (attribute.Id == id)
            {
                return attribute.Value.Negated;
            }
        }
        return false;
    }

    private static readonly string[] StateOrder = ["NEW", "ESTABLISHED", "RELATED", "INVALID"];

    /// <summary>A state list in libvirt's order, or null for <c>NONE</c> or nothing (no conntrack match at all).</summary>
    public static string? StateList(string canonical)
    {
        var items = canonical.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries);
        if (items.Any(i => i.Equals("NONE", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }
        var selected = StateOrder.Where(s => items.Any(i => i.Equals(s, StringComparison.OrdinalIgnoreCase))).ToArray();
        return selected.Length == 0 ? null : string.Join(',', selected);
    }

    private static readonly string[] TcpFlagOrder = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];

    /// <summary><c>MASK/FLAGS</c> as two flag words: NONE, ALL, or the flags in FIN..URG order (iptables' words, which nft's writer maps).</summary>
    public static (string Mask, string Flags) TcpFlagWords(string canonical)
    {
        var slash = canonical.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            throw new FormatException($"TCP flags '{canonical}' are not MASK/FLAGS.");
        }
        return (FlagWord(canonical[..slash]), FlagWord(canonical[(slash + 1)..]));
    }

    private static string FlagWord(string list)
    {
        var bits = 0;
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (item.Equals("ALL", StringComparison.OrdinalIgnoreCase))
            {
                bits = 0x3f;
                continue;
            }
            if (item.Equals("NONE", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var index = Array.FindIndex(TcpFlagOrder, f => f.Equals(item, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                throw new FormatException($"'{item}' is not a TCP flag.");
            }
            bits |= 1 << index;
        }
        return bits switch
        {
            0 => "NONE",
            0x3f => "ALL",
            _ => string.Join(',', TcpFlagOrder.Where((_, i) => (bits & (1 << i)) != 0)),
        };
    }

    /// <summary>The ipset flags (<c>src,dst,...</c>), with src and dst swapped in a reversed copy.</summary>
    public static string IpSetFlags(string canonical, bool reverse) =>
        string.Join(',', canonical.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(flag =>
            (flag.Equals("src", StringComparison.OrdinalIgnoreCase) != reverse) ? "src" : "dst"));
}
