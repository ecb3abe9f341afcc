using System.Collections.Immutable;
using System.Text.Json;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>One generation of a port's chains in the kernel.</summary>
/// <param name="Id">The port's id (the packet-mark value that stands for it in the inet table).</param>
/// <param name="Generation">The generation (incremented on every replace).</param>
/// <param name="Chains">The chains of this generation: family and role.</param>
internal sealed record NftPortGeneration(int Id, int Generation, ImmutableArray<(NftFamily Family, string Role)> Chains)
{
    public int Id { get; internal init; } = Id;
    public int Generation { get; internal init; } = Generation;
    public ImmutableArray<(NftFamily Family, string Role)> Chains { get; internal init; } = Chains;

    public bool Has(NftFamily family, string role) => Chains.Contains((family, role));
}

/// <summary>
/// What NwFilter's tables hold, as far as planning needs it: which base chains exist, and per port the generations of
/// its chains (normally exactly one). Read from <c>nft -j list chains</c>: chain names carry port, id and generation,
/// so no rule or map element has to be listed (that would cost a listing of every rule).
/// </summary>
internal sealed record NftState
{
    public static NftState Empty { get; } = new();

    /// <summary>The base chains that exist, per family (<c>prerouting</c>, <c>forward</c>, ...).</summary>
    public ImmutableHashSet<(NftFamily Family, string Chain)> BaseChains { get; internal init; } = [];

    /// <summary>Per port, its generations, newest last.</summary>
    public ImmutableDictionary<string, ImmutableArray<NftPortGeneration>> Ports { get; internal init; } =
        ImmutableDictionary<string, ImmutableArray<NftPortGeneration>>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>Chains in our tables whose names are not ours (drift); reported, never touched except by a table delete.</summary>
    public ImmutableArray<string> ForeignChains { get; internal init; } = [];

    /// <summary>True when the family's table exists (it has at least one chain).</summary>
    public bool HasTable(NftFamily family) =>
        BaseChains.Any(b => b.Family == family) || Ports.Values.Any(g => g.Any(x => x.Chains.Any(c => c.Family == family))) ||
        ForeignChains.Any(f => f.StartsWith(family == NftFamily.Bridge ? "bridge " : "inet ", StringComparison.Ordinal));

    /// <summary>The current generation of a port (the newest), or null when the port has no chains.</summary>
    public NftPortGeneration? Current(string portDevice) =>
        Ports.TryGetValue(portDevice, out var generations) && !generations.IsEmpty ? generations[^1] : null;

    /// <summary>Every port id in use.</summary>
    public IEnumerable<int> UsedIds => Ports.Values.SelectMany(g => g.Select(x => x.Id));

    /// <summary>Reads the JSON of <c>nft -j list chains</c> (every family; only NwFilter's tables are looked at).</summary>
    public static NftState ParseChainListing(string json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return Empty;
        }
        var baseChains = ImmutableHashSet.CreateBuilder<(NftFamily, string)>();
        var ports = new Dictionary<string, SortedDictionary<(int Gen, int Id), List<(NftFamily, string)>>>(StringComparer.Ordinal);
        var foreign = ImmutableArray.CreateBuilder<string>();
        try
        {
            using var document = JsonDocument.Parse(json);
            foreach (var item in document.RootElement.GetProperty("nftables").EnumerateArray())
            {
                if (!item.TryGetProperty("chain", out var chain) || chain.GetProperty("table").GetString() != NftNames.Table)
                {
                    continue;
                }
                var familyName = chain.GetProperty("family").GetString();
                if (familyName is not (NftNames.BridgeFamily or NftNames.InetFamily))
                {
                    continue;
                }
                var family = familyName == NftNames.BridgeFamily ? NftFamily.Bridge : NftFamily.Inet;
                var name = chain.GetProperty("name").GetString() ?? "";
                if (chain.TryGetProperty("hook", out _))
                {
                    baseChains.Add((family, name));
                }
                else if (NftNames.TryParseChain(name, out var port, out var id, out var generation, out var role))
                {
                    if (!ports.TryGetValue(port, out var generations))
                    {
                        ports[port] = generations = [];
                    }
                    if (!generations.TryGetValue((generation, id), out var chains))
                    {
                        generations[(generation, id)] = chains = [];
                    }
                    chains.Add((family, role));
                }
                else
                {
                    foreign.Add($"{familyName} {name}");
                }
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new NwFilterException(Diagnostic.Error(NftablesCodes.UnreadableState,
                $"The output of 'nft -j list chains' could not be read: {e.Message}", DiagnosticCategory.ResourceUnavailable), e);
        }
        return new NftState
        {
            BaseChains = baseChains.ToImmutable(),
            Ports = ports.ToImmutableDictionary(
                p => p.Key,
                p => p.Value.Select(g => new NftPortGeneration(g.Key.Id, g.Key.Gen, [.. g.Value])).ToImmutableArray(),
                StringComparer.Ordinal),
            ForeignChains = foreign.ToImmutable(),
        };
    }
}
