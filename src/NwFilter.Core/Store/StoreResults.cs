using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Store;

/// <summary>Where a filter a store returns comes from.</summary>
public enum FilterOrigin
{
    /// <summary>One of NwFilter's built-in filters, not redefined.</summary>
    BuiltIn,
    /// <summary>A filter defined in the store.</summary>
    Defined,
    /// <summary>A filter defined in the store under a built-in filter's name: it shadows the built-in.</summary>
    Redefined,
}

/// <summary>A filter as a store holds it.</summary>
/// <param name="Definition">The filter; its <see cref="FilterDefinition.Uuid"/> is always set.</param>
/// <param name="Origin">Built-in, defined, or defined over a built-in.</param>
/// <param name="Path">The file it is stored in; null for a built-in.</param>
public sealed record StoredFilter(FilterDefinition Definition, FilterOrigin Origin, string? Path)
{
    /// <summary>The filter's name.</summary>
    public string Name => Definition.Name;

    /// <summary>The filter's UUID (always set for a stored filter).</summary>
    public Guid Uuid => Definition.Uuid!.Value;

    /// <summary>True for a filter NwFilter ships (see <c>BuiltIn/</c>).</summary>
    public bool IsBuiltIn => Origin == FilterOrigin.BuiltIn;
}

/// <summary>Every filter of a store, by name (ordinal), and the stored files that could not be read.</summary>
/// <param name="Filters">The filters, sorted by name.</param>
/// <param name="Problems">One error per unreadable file (the file is left out of <paramref name="Filters"/>).</param>
public sealed record FilterListing(ImmutableArray<StoredFilter> Filters, ImmutableArray<Diagnostic> Problems);

/// <summary>What a define did.</summary>
public enum DefineOutcome
{
    /// <summary>A new filter was written.</summary>
    Created,
    /// <summary>An existing filter (or a built-in) was replaced by a different definition.</summary>
    Updated,
    /// <summary>The definition equals the current one; nothing was written.</summary>
    Unchanged,
}

/// <summary>The result of <see cref="FilterStore.Define"/>.</summary>
/// <param name="Filter">The filter as now stored (with its uuid).</param>
/// <param name="Outcome">Created, updated or unchanged.</param>
/// <param name="Warnings">References to filters that do not exist, and the like.</param>
public sealed record DefineResult(StoredFilter Filter, DefineOutcome Outcome, ImmutableArray<Diagnostic> Warnings);

/// <summary>The result of <see cref="FilterStore.Undefine"/>.</summary>
/// <param name="Removed">The filter that was removed.</param>
/// <param name="Revealed">The built-in filter that is visible again under the same name, or null.</param>
/// <param name="Warnings">Filters that still reference the removed one.</param>
public sealed record UndefineResult(StoredFilter Removed, StoredFilter? Revealed, ImmutableArray<Diagnostic> Warnings);
