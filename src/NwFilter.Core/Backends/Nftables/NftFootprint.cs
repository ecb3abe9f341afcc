using System.Text.RegularExpressions;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// One port's part of NwFilter's nftables tables, read from <c>nft list ruleset</c>, as lines that compare between two
/// namespaces: chain names without their id and generation (<c>vnet0/I</c>), the port's mark value written as
/// <c>&lt;id&gt;</c>, its map elements, and the base chains it relies on (the drift test of nftables bindings).
/// </summary>
internal static partial class NftFootprint
{
    /// <summary>NwFilter's tables in a listing: family → block name (<c>chain X</c>, <c>map X</c>) → lines.</summary>
    public static Dictionary<string, List<(string Block, List<string> Lines)>> Parse(string listing)
    {
        var tables = new Dictionary<string, List<(string, List<string>)>>(StringComparer.Ordinal);
        List<(string, List<string>)>? table = null;
        List<string>? block = null;
        foreach (var raw in listing.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }
            if (TableHeader().Match(line) is { Success: true } t)
            {
                table = t.Groups[2].Value == NftNames.Table ? (tables[t.Groups[1].Value] = []) : null;
                block = null;
                continue;
            }
            if (table is null)
            {
                continue;
            }
            if (BlockHeader().Match(line) is { Success: true } b)
            {
                block = [];
                table.Add(($"{b.Groups[1].Value} {b.Groups[2].Value}", block));
                continue;
            }
            if (line == "}")
            {
                if (block is null)
                {
                    table = null;
                }
                block = null;
                continue;
            }
            block?.Add(line);
        }
        return tables;
    }

    /// <summary>The port's lines; <paramref name="hasChains"/> tells whether the port has any chain at all.</summary>
    public static List<string> Of(Dictionary<string, List<(string Block, List<string> Lines)>> tables, string port, out bool hasChains)
    {
        var lines = new List<string>();
        hasChains = false;
        foreach (var (family, blocks) in tables.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            var own = new List<(string Role, int Id, int Generation, List<string> Lines)>();
            foreach (var (block, body) in blocks)
            {
                if (block.StartsWith("chain ", StringComparison.Ordinal) && NftNames.TryParseChain(block[6..], out var p, out var id, out var gen, out var role) && p == port)
                {
                    own.Add((role, id, gen, body));
                }
            }
            if (own.Count == 0)
            {
                continue;
            }
            hasChains = true;
            var ids = own.Select(o => (o.Id, o.Generation)).Distinct().ToList();
            string Normalize(string text)
            {
                foreach (var (id, gen) in ids)
                {
                    text = text.Replace(NftNames.Chain(port, id, gen, ""), NftNames.Escape(port) + "/", StringComparison.Ordinal)
                        .Replace(NftNames.FromMark(id), "<id>", StringComparison.Ordinal)
                        .Replace(NftNames.ToMark(id), "<id<<16>", StringComparison.Ordinal);
                }
                return text;
            }
            foreach (var (block, body) in blocks)
            {
                if (block.StartsWith("map ", StringComparison.Ordinal))
                {
                    foreach (var element in Elements(body).Where(e => own.Any(o => e.Contains(NftNames.Chain(port, o.Id, o.Generation, o.Role), StringComparison.Ordinal))))
                    {
                        lines.Add($"nft {family} {block}: {Normalize(element)}");
                    }
                }
                else if (block.StartsWith("chain ", StringComparison.Ordinal) && !NftNames.TryParseChain(block[6..], out _, out _, out _, out _))
                {
                    lines.AddRange(body.Select(l => $"nft {family} {block}: {l}"));
                }
            }
            foreach (var (role, id, gen, body) in own.OrderBy(o => o.Role, StringComparer.Ordinal).ThenBy(o => o.Generation))
            {
                var name = $"chain {NftNames.Escape(port)}/{role}";
                lines.Add($"nft {family} {name}");
                lines.AddRange(body.Select(l => $"nft {family} {name}: {Normalize(l)}"));
            }
        }
        return lines;
    }

    /// <summary>The ports that have chains in a listing.</summary>
    public static IEnumerable<string> Ports(Dictionary<string, List<(string Block, List<string> Lines)>> tables) =>
        tables.Values.SelectMany(b => b).Select(b => b.Block)
            .Select(b => b.StartsWith("chain ", StringComparison.Ordinal) && NftNames.TryParseChain(b[6..], out var p, out _, out _, out _) ? p : null)
            .OfType<string>().Distinct(StringComparer.Ordinal);

    private static IEnumerable<string> Elements(List<string> body)
    {
        var text = string.Join(" ", body);
        var start = text.IndexOf("elements = {", StringComparison.Ordinal);
        if (start < 0)
        {
            return [];
        }
        var end = text.IndexOf('}', start);
        var inner = text[(start + "elements = {".Length)..(end < 0 ? text.Length : end)];
        return inner.Split(',').Select(e => string.Join(" ", e.Split(' ', StringSplitOptions.RemoveEmptyEntries))).Where(e => e.Length > 0);
    }

    [GeneratedRegex(@"^table (\S+) (\S+) \{$", RegexOptions.CultureInvariant)]
    private static partial Regex TableHeader();

    [GeneratedRegex(@"^(chain|map|set) (\S+) \{$", RegexOptions.CultureInvariant)]
    private static partial Regex BlockHeader();
}

/// <summary>NwFilter's nftables tables as read from <c>nft list ruleset</c>, per port, for drift comparison.</summary>
internal sealed class NftFootprintView(string listing) : IBackendFootprint
{
    private readonly Dictionary<string, List<(string Block, List<string> Lines)>> _tables = NftFootprint.Parse(listing);

    public List<string> Of(string port, out bool present) => NftFootprint.Of(_tables, port, out present);

    public IEnumerable<string> Ports() => NftFootprint.Ports(_tables);
}
