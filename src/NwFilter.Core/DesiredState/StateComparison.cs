using System.Collections.Immutable;

namespace NwFilter.Core.DesiredState;

/// <summary>What kind of item differs.</summary>
public enum StateItemKind
{
    /// <summary>A filter, by name.</summary>
    Filter,

    /// <summary>A binding, by port device.</summary>
    Binding,
}

/// <summary>How an item differs from what was asked.</summary>
public enum StateChange
{
    /// <summary>The checked side has no such filter or binding.</summary>
    Missing,

    /// <summary>It exists with other content (another hash; for a binding, the properties named).</summary>
    Different,

    /// <summary>A binding the document does not list, with pruneBindings set: Set removes it.</summary>
    Unlisted,
}

/// <summary>One difference between a desired state and a host (or between two hosts).</summary>
/// <param name="Kind">Filter or binding.</param>
/// <param name="Name">The filter's name or the binding's port device.</param>
/// <param name="Change">Missing, Different or Unlisted.</param>
/// <param name="DesiredHash">The hash asked for; null for an unlisted binding.</param>
/// <param name="ActualHash">The hash found; null when missing.</param>
public sealed record StateDifference(StateItemKind Kind, string Name, StateChange Change, string? DesiredHash, string? ActualHash)
{
    /// <summary>For a binding that differs: the properties that do (MacAddress, Filter, Parameters, Owner, ...).</summary>
    public ImmutableArray<string> Properties { get; init; } = [];

    /// <summary>For a migration check: the bindings (port devices) whose filters need this one.</summary>
    public ImmutableArray<string> NeededBy { get; init; } = [];

    /// <summary>The difference in one line: kind, name, change and the properties that differ.</summary>
    public override string ToString() =>
        Properties.IsDefaultOrEmpty ? $"{Kind} '{Name}': {Change}" : $"{Kind} '{Name}': {Change} ({string.Join(", ", Properties)})";
}

/// <summary>The answer of a comparison: in the desired state or not, and exactly what differs.</summary>
/// <param name="InDesiredState">True when nothing differs.</param>
/// <param name="Differences">Each filter and binding that differs, filters first, by name.</param>
/// <param name="Compared">The filters and port devices compared (for a migration check: the filters the bindings need).</param>
public sealed record StateTestResult(bool InDesiredState, ImmutableArray<StateDifference> Differences, ImmutableArray<string> Compared);

/// <summary>Compares states (docs/design/state.md): pure, no host access.</summary>
public static class StateComparison
{
    /// <summary>
    /// How <paramref name="actual"/> differs from <paramref name="desired"/>: each desired filter by hash, each desired
    /// binding by its properties; the actual bindings the desired state does not list only when it prunes them.
    /// Actual filters a document does not list are not differences (built-ins and others' filters stay).
    /// </summary>
    public static StateTestResult Compare(NwFilterState desired, NwFilterState actual)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(actual);
        var differences = ImmutableArray.CreateBuilder<StateDifference>();
        var compared = ImmutableArray.CreateBuilder<string>();
        var actualFilters = actual.Filters.ToDictionary(f => f.Name, StringComparer.Ordinal);
        foreach (var want in desired.Filters.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            compared.Add(want.Name);
            if (!actualFilters.TryGetValue(want.Name, out var have))
            {
                differences.Add(new StateDifference(StateItemKind.Filter, want.Name, StateChange.Missing, want.Hash, null));
            }
            else if (have.Hash != want.Hash)
            {
                differences.Add(new StateDifference(StateItemKind.Filter, want.Name, StateChange.Different, want.Hash, have.Hash));
            }
        }
        var actualBindings = actual.Bindings.ToDictionary(b => b.PortDevice, StringComparer.Ordinal);
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var want in desired.Bindings.OrderBy(b => b.PortDevice, StringComparer.Ordinal))
        {
            compared.Add(want.PortDevice);
            listed.Add(want.PortDevice);
            if (!actualBindings.TryGetValue(want.PortDevice, out var have))
            {
                differences.Add(new StateDifference(StateItemKind.Binding, want.PortDevice, StateChange.Missing, want.Hash, null));
            }
            else if (BindingProperties(want, have) is { Length: > 0 } properties)
            {
                differences.Add(new StateDifference(StateItemKind.Binding, want.PortDevice, StateChange.Different, want.Hash, have.Hash) { Properties = properties });
            }
        }
        if (desired.Settings.PruneBindings)
        {
            foreach (var have in actual.Bindings.Where(b => !listed.Contains(b.PortDevice)).OrderBy(b => b.PortDevice, StringComparer.Ordinal))
            {
                differences.Add(new StateDifference(StateItemKind.Binding, have.PortDevice, StateChange.Unlisted, null, have.Hash));
            }
        }
        return new StateTestResult(differences.Count == 0, differences.ToImmutable(), compared.ToImmutable());
    }

    /// <summary>The properties in which two bindings of one port differ, in the binding's own order.</summary>
    public static ImmutableArray<string> BindingProperties(BindingState want, BindingState have)
    {
        var p = ImmutableArray.CreateBuilder<string>();
        if (want.MacAddress != have.MacAddress) p.Add(nameof(BindingState.MacAddress));
        if (want.Filter != have.Filter) p.Add(nameof(BindingState.Filter));
        if (!want.Parameters.Equals(have.Parameters)) p.Add(nameof(BindingState.Parameters));
        if (want.Owner != have.Owner) p.Add(nameof(BindingState.Owner));
        if (want.OwnerUuid != have.OwnerUuid) p.Add(nameof(BindingState.OwnerUuid));
        if (want.LinkDevice != have.LinkDevice) p.Add(nameof(BindingState.LinkDevice));
        // A desired binding that names no backend (the document's default is the host's) takes the port's: as a binding
        // re-applied without -Backend keeps the backend it was applied with.
        var unset = want.Binding?.BackendUnset == true;
        if (!unset && want.Backend != have.Backend) p.Add(nameof(BindingState.Backend));
        // Counters left to the host (null) take the port's setting the same way.
        if (want.Counters is not null && want.Counters != have.Counters) p.Add(nameof(BindingState.Counters));
        var countersUnset = want.Counters is null && have.Counters is not null;
        var wantHash = (unset || countersUnset) && have.Binding is not null && want.Binding is not null
            ? StateHashes.OfBinding(want.Binding with
            {
                Backend = unset ? have.Backend : want.Binding.Backend,
                BackendUnset = !unset && want.Binding.BackendUnset,
                Counters = countersUnset ? have.Counters : want.Counters,
            })
            : want.Hash;
        // Anything the canonical form holds that the properties above do not (there is nothing today) still counts.
        if (p.Count == 0 && wantHash != have.Hash) p.Add(nameof(BindingState.Hash));
        return p.ToImmutable();
    }

    /// <summary>
    /// Migration closure: does <paramref name="target"/> have every filter the bindings of <paramref name="portDevices"/>
    /// (all of <paramref name="source"/>'s when null) need, transitively through references, with the same hash?
    /// A port device <paramref name="source"/> has no binding for is a Missing binding difference.
    /// </summary>
    public static StateTestResult Migration(NwFilterState source, NwFilterState target, IEnumerable<string>? portDevices = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var differences = ImmutableArray.CreateBuilder<StateDifference>();
        var sourceFilters = source.Filters.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var targetFilters = target.Filters.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var bindings = source.Bindings.ToDictionary(b => b.PortDevice, StringComparer.Ordinal);
        var ports = portDevices?.Distinct(StringComparer.Ordinal).ToList() ?? [.. bindings.Keys.Order(StringComparer.Ordinal)];
        var neededBy = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var port in ports)
        {
            if (!bindings.TryGetValue(port, out var binding))
            {
                differences.Add(new StateDifference(StateItemKind.Binding, port, StateChange.Missing, null, null));
                continue;
            }
            var pending = new Stack<string>([binding.Filter]);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (pending.TryPop(out var name))
            {
                if (!seen.Add(name))
                {
                    continue;
                }
                if (!neededBy.TryGetValue(name, out var users))
                {
                    neededBy[name] = users = new SortedSet<string>(StringComparer.Ordinal);
                }
                users.Add(port);
                if (sourceFilters.TryGetValue(name, out var filter))
                {
                    foreach (var reference in filter.References)
                    {
                        pending.Push(reference);
                    }
                }
            }
        }
        foreach (var (name, users) in neededBy)
        {
            var have = sourceFilters.GetValueOrDefault(name);
            var there = targetFilters.GetValueOrDefault(name);
            if (there is null)
            {
                differences.Add(new StateDifference(StateItemKind.Filter, name, StateChange.Missing, have?.Hash, null) { NeededBy = [.. users] });
            }
            else if (have is not null && have.Hash != there.Hash)
            {
                differences.Add(new StateDifference(StateItemKind.Filter, name, StateChange.Different, have.Hash, there.Hash) { NeededBy = [.. users] });
            }
        }
        var ordered = differences.OrderBy(d => d.Kind).ThenBy(d => d.Name, StringComparer.Ordinal).ToImmutableArray();
        return new StateTestResult(ordered.Length == 0, ordered, [.. neededBy.Keys]);
    }
}
