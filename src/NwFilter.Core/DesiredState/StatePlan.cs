using System.Collections.Immutable;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.DesiredState;

/// <summary>
/// What Set-NwFilterState changes to bring a host to a desired state (docs/design/state.md): the filters to define
/// (one all-or-nothing DefineFiltersRequest), the bindings to apply (one ApplyBindingsRequest) and, when the state
/// prunes, the bindings to remove (one RemoveBindingsRequest). Only what differs is in it.
/// </summary>
/// <param name="Filters">The filters to define, in name order; a new one gets the UUID derived from its name.</param>
/// <param name="Apply">The bindings to apply (missing or different), by port device.</param>
/// <param name="Remove">The port devices whose bindings the state does not list (pruneBindings), by port device.</param>
/// <param name="Test">The comparison the plan comes from.</param>
public sealed record StatePlan(ImmutableArray<FilterDefinition> Filters, ImmutableArray<FilterBinding> Apply, ImmutableArray<string> Remove, StateTestResult Test)
{
    /// <summary>The namespace of the UUIDs of filters defined from a state document: the same name gives the same UUID on every host.</summary>
    public static Guid FilterUuidNamespace { get; } = new("2b0f6c55-8f4e-4d7b-9d35-1f6a0c7e5a42");

    /// <summary>True when nothing differs.</summary>
    public bool IsEmpty => Filters.IsEmpty && Apply.IsEmpty && Remove.IsEmpty;

    /// <summary>The plan that takes <paramref name="actual"/> to <paramref name="desired"/>.</summary>
    /// <exception cref="NwFilterException">A filter that differs is given by hash only (StateFilterContentUnknown): nothing to define it from.</exception>
    public static StatePlan Create(NwFilterState desired, NwFilterState actual)
    {
        var test = StateComparison.Compare(desired, actual);
        var wanted = desired.Filters.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var bindings = desired.Bindings.ToDictionary(b => b.PortDevice, StringComparer.Ordinal);
        var current = actual.Bindings.ToDictionary(b => b.PortDevice, StringComparer.Ordinal);
        var filters = ImmutableArray.CreateBuilder<FilterDefinition>();
        var apply = ImmutableArray.CreateBuilder<FilterBinding>();
        var remove = ImmutableArray.CreateBuilder<string>();
        var unknown = new List<Diagnostic>();
        foreach (var d in test.Differences)
        {
            switch (d.Kind, d.Change)
            {
                case (StateItemKind.Filter, _):
                    var filter = wanted[d.Name];
                    if (filter.Definition is not { } definition)
                    {
                        unknown.Add(Diagnostic.Error(StateCodes.FilterContentUnknown,
                            $"The filter '{d.Name}' is {(d.Change == StateChange.Missing ? "missing" : $"different (hash {d.ActualHash})")}, and the state gives only its hash {d.DesiredHash}: give its XML to define it.")
                            with { Filter = d.Name });
                        continue;
                    }
                    // A new filter gets the UUID of its name; an existing one keeps its own (the store refuses a new UUID for a name).
                    filters.Add(d.Change == StateChange.Missing ? definition with { Uuid = NameBasedUuid.Create(FilterUuidNamespace, d.Name) } : definition);
                    break;
                case (StateItemKind.Binding, StateChange.Unlisted):
                    remove.Add(d.Name);
                    break;
                case (StateItemKind.Binding, _):
                    // A binding that leaves its counters to the host keeps the port's setting (as it keeps the port's backend).
                    var binding = bindings[d.Name].Binding;
                    if (binding.Counters is null && current.TryGetValue(d.Name, out var now) && now.Counters is not null)
                    {
                        binding = binding with { Counters = now.Counters };
                    }
                    apply.Add(binding);
                    break;
                default:
                    throw new InvalidOperationException($"unknown difference {d}");
            }
        }
        if (unknown.Count > 0)
        {
            throw new NwFilterException(unknown);
        }
        return new StatePlan(ReferencedFirst(filters), apply.ToImmutable(), remove.ToImmutable(), test);
    }

    /// <summary>The filters in name order, except that one comes after the filters of the batch it references (no "does not exist yet" warning).</summary>
    private static ImmutableArray<FilterDefinition> ReferencedFirst(IEnumerable<FilterDefinition> filters)
    {
        var byName = filters.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var ordered = ImmutableArray.CreateBuilder<FilterDefinition>(byName.Count);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        void Visit(FilterDefinition f)
        {
            if (!visited.Add(f.Name))
            {
                return;
            }
            foreach (var r in f.References)
            {
                if (byName.TryGetValue(r.Filter, out var referenced))
                {
                    Visit(referenced);
                }
            }
            ordered.Add(f);
        }
        foreach (var f in byName.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            Visit(f);
        }
        return ordered.ToImmutable();
    }
}

/// <summary>What Set-NwFilterState changed.</summary>
/// <param name="Changed">False when the host was already in the desired state (or nothing was confirmed).</param>
/// <param name="DefinedFilters">The filters defined, by name.</param>
/// <param name="AppliedBindings">The bindings applied, by port device.</param>
/// <param name="RemovedBindings">The bindings removed (pruneBindings), by port device.</param>
/// <param name="Before">How the host differed before.</param>
/// <param name="StateHash">The host's StateHash after.</param>
public sealed record StateSetResult(bool Changed, ImmutableArray<string> DefinedFilters, ImmutableArray<string> AppliedBindings, ImmutableArray<string> RemovedBindings, StateTestResult Before, string StateHash);
