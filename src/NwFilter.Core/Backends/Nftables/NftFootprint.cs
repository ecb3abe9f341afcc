using System.Text.RegularExpressions;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// One port's part of NwFilter's nftables tables, read from <c>nft list ruleset</c>, as lines that compare between two
/// namespaces (or between the kernel and the expected lines remembered from an earlier check): chain names without
/// their id and generation (<c>vnet0/I</c>), every 32-bit constant made from the port's id written symbolically
/// (<c>&lt;id&gt;</c>, <c>&lt;id&lt;&lt;16&gt;</c>, and the masks nft folds the id into:
/// <c>meta mark &amp; 0xffff000c | 0x0000000c</c> is <c>meta mark &amp; &lt;0xffff0000|id&gt; | &lt;id&gt;</c>), its map
/// elements, and the base chains it relies on (the drift test of nftables bindings).
/// </summary>
/// <remarks>
/// The listing is parsed once and indexed by port, so the footprint of every port of a 1,000-port listing costs one
/// pass over the listing (the earlier form rescanned every chain and map for each port).
/// </remarks>
internal static partial class NftFootprint
{
    /// <summary>One table of a listing: its base chains (body lines), its map elements per port, its port chains per port.</summary>
    internal sealed class Table
    {
        public List<(string Block, List<string> Lines)> BaseChains { get; } = [];

        public Dictionary<string, List<(string Map, string Element)>> Elements { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, List<(string Role, int Id, int Generation, List<string> Lines)>> Chains { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>NwFilter's tables in a listing, by family, indexed by port.</summary>
    public static SortedDictionary<string, Table> Parse(string listing)
    {
        var tables = new SortedDictionary<string, Table>(StringComparer.Ordinal);
        Table? table = null;
        string? blockName = null;
        List<string>? block = null;
        void Close()
        {
            if (table is null || blockName is null || block is null)
            {
                return;
            }
            if (blockName.StartsWith("chain ", StringComparison.Ordinal))
            {
                if (NftNames.TryParseChain(blockName[6..], out var port, out var id, out var gen, out var role))
                {
                    Add(table.Chains, port, (role, id, gen, block));
                }
                else
                {
                    table.BaseChains.Add((blockName, block));
                }
            }
            else if (blockName.StartsWith("map ", StringComparison.Ordinal))
            {
                foreach (var element in ElementsOf(block))
                {
                    if (TargetChain().Match(element) is { Success: true } m && NftNames.TryParseChain(m.Groups[1].Value, out var port, out _, out _, out _))
                    {
                        Add(table.Elements, port, (blockName, element));
                    }
                }
            }
        }
        for (var start = 0; start < listing.Length;)
        {
            var end = listing.IndexOf('\n', start);
            if (end < 0)
            {
                end = listing.Length;
            }
            var span = listing.AsSpan(start, end - start).Trim();
            start = end + 1;
            if (span.IsEmpty)
            {
                continue;
            }
            var line = span.ToString();
            var header = line[^1] == '{';
            if (header && line.StartsWith("table ", StringComparison.Ordinal) && TableHeader().Match(line) is { Success: true } t)
            {
                table = t.Groups[2].Value == NftNames.Table ? (tables[t.Groups[1].Value] = new Table()) : null;
                blockName = null;
                block = null;
                continue;
            }
            if (table is null)
            {
                continue;
            }
            if (header && BlockHeader().Match(line) is { Success: true } b)
            {
                blockName = $"{b.Groups[1].Value} {b.Groups[2].Value}";
                block = [];
                continue;
            }
            if (line == "}")
            {
                if (block is null)
                {
                    table = null;
                }
                else
                {
                    Close();
                }
                blockName = null;
                block = null;
                continue;
            }
            block?.Add(line);
        }
        return tables;
    }

    private static void Add<T>(Dictionary<string, List<T>> index, string port, T item)
    {
        if (!index.TryGetValue(port, out var list))
        {
            index[port] = list = [];
        }
        list.Add(item);
    }

    /// <summary>The port's lines; <paramref name="hasChains"/> tells whether the port has any chain at all.</summary>
    public static List<string> Of(SortedDictionary<string, Table> tables, string port, out bool hasChains)
    {
        var lines = new List<string>();
        hasChains = false;
        foreach (var (family, table) in tables)
        {
            if (!table.Chains.TryGetValue(port, out var own))
            {
                continue;
            }
            hasChains = true;
            var normalize = Normalizer(port, own.Select(o => (o.Id, o.Generation)).Distinct());
            if (table.Elements.TryGetValue(port, out var elements))
            {
                lines.AddRange(elements.Select(e => $"nft {family} {e.Map}: {normalize(e.Element)}"));
            }
            foreach (var (block, body) in table.BaseChains)
            {
                lines.AddRange(body.Select(l => $"nft {family} {block}: {l}"));
            }
            foreach (var (role, _, _, body) in own.OrderBy(o => o.Role, StringComparer.Ordinal).ThenBy(o => o.Generation))
            {
                var name = $"chain {NftNames.Escape(port)}/{role}";
                lines.Add($"nft {family} {name}");
                lines.AddRange(body.Select(l => $"nft {family} {name}: {normalize(l)}"));
            }
        }
        return lines;
    }

    /// <summary>
    /// Rewrites a line of the port's so that it does not depend on the id and generation the port got: its chain names
    /// (<c>vnet0/12/3/I-arp</c> → <c>vnet0/I-arp</c>) and every 32-bit constant derived from the id, as a whole token
    /// outside strings.
    /// </summary>
    internal static Func<string, string> Normalizer(string port, IEnumerable<(int Id, int Generation)> ids)
    {
        var prefixes = new List<string>();
        var constants = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, gen) in ids)
        {
            prefixes.Add(NftNames.Chain(port, id, gen, ""));
            var low = (uint)id;
            var high = (uint)id << NftNames.ToShift;
            constants.TryAdd(NftNames.Hex32(low), "<id>");
            constants.TryAdd(NftNames.Hex32(high), "<id<<16>");
            // nft folds "meta mark and MASK or VALUE" into "meta mark & (MASK|VALUE) | VALUE".
            constants.TryAdd(NftNames.Hex32(NftNames.ToMask | low), "<0xffff0000|id>");
            constants.TryAdd(NftNames.Hex32(NftNames.FromMask | high), "<0x0000ffff|id<<16>");
        }
        var escaped = NftNames.Escape(port) + "/";
        return text =>
        {
            // A rule's counter values change with every packet: the rule is the same rule.
            if (text.Contains("counter packets ", StringComparison.Ordinal))
            {
                text = CounterValues().Replace(text, "counter");
            }
            foreach (var prefix in prefixes)
            {
                text = text.Replace(prefix, escaped, StringComparison.Ordinal);
            }
            if (!text.Contains("0x", StringComparison.Ordinal))
            {
                return text;
            }
            // Only outside strings (a comment or an interface name is text, not a constant).
            var parts = text.Split('"');
            for (var i = 0; i < parts.Length; i += 2)
            {
                parts[i] = Hex32Token().Replace(parts[i], m => constants.TryGetValue(m.Value, out var symbol) ? symbol : m.Value);
            }
            return string.Join('"', parts);
        };
    }

    /// <summary>The ports that have chains in a listing.</summary>
    public static IEnumerable<string> Ports(SortedDictionary<string, Table> tables) =>
        tables.Values.SelectMany(t => t.Chains.Keys).Distinct(StringComparer.Ordinal);

    private static IEnumerable<string> ElementsOf(List<string> body)
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

    [GeneratedRegex(@"(?:jump|goto) (\S+)$", RegexOptions.CultureInvariant)]
    private static partial Regex TargetChain();

    [GeneratedRegex(@"\bcounter packets [0-9]+ bytes [0-9]+", RegexOptions.CultureInvariant)]
    private static partial Regex CounterValues();

    [GeneratedRegex(@"(?<![0-9A-Za-z])0x[0-9a-f]{8}(?![0-9A-Za-z])", RegexOptions.CultureInvariant)]
    private static partial Regex Hex32Token();
}

/// <summary>NwFilter's nftables tables as read from <c>nft list ruleset</c>, per port, for drift comparison.</summary>
internal sealed class NftFootprintView(string listing) : IBackendFootprint
{
    private readonly SortedDictionary<string, NftFootprint.Table> _tables = NftFootprint.Parse(listing);

    public List<string> Of(string port, out bool present) => NftFootprint.Of(_tables, port, out present);

    public IEnumerable<string> Ports() => NftFootprint.Ports(_tables);
}
