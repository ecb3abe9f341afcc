using System.Collections.Frozen;
using NwFilter.Core.Model;

namespace NwFilter.Core.Graph;

/// <summary>
/// Where filters are looked up by name while a filter tree is resolved: the store, a folder, or a set built in memory.
/// </summary>
public interface IFilterSource
{
    /// <summary>The filter named <paramref name="name"/>, or null when there is none.</summary>
    FilterDefinition? Find(string name);
}

/// <summary>A fixed set of filters held in memory.</summary>
internal sealed class InMemoryFilterSource : IFilterSource
{
    private readonly FrozenDictionary<string, FilterDefinition> _filters;

    public InMemoryFilterSource(IEnumerable<FilterDefinition> filters)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var map = new Dictionary<string, FilterDefinition>(StringComparer.Ordinal);
        foreach (var f in filters)
        {
            map[f.Name] = f; // the last definition of a name wins, as a redefine does
        }
        _filters = map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public InMemoryFilterSource(params FilterDefinition[] filters)
        : this((IEnumerable<FilterDefinition>)filters)
    {
    }

    /// <summary>The names held, in ordinal order.</summary>
    public IEnumerable<string> Names => _filters.Keys.Order(StringComparer.Ordinal);

    public FilterDefinition? Find(string name) => _filters.GetValueOrDefault(name);
}
