using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Graph;

/// <summary>
/// One <c>&lt;rule&gt;</c> reached while flattening a filter tree, with the filter that owns it and the variable table
/// in force there (libvirt's rule instance before binding).
/// </summary>
/// <param name="Filter">The filter the rule is written in: its chain and chain priority apply.</param>
/// <param name="Rule">The rule as written (variables unbound).</param>
/// <param name="Variables">The variables visible to the rule: the caller's table laid over the filterref parameters.</param>
/// <param name="Path">The filter names from the top filter down to <paramref name="Filter"/>, for messages.</param>
public sealed record FlattenedRule(FilterDefinition Filter, FilterRule Rule, ParameterSet Variables, ImmutableArray<string> Path);

/// <summary>The rules of a filter tree in document order, and every problem met on the way.</summary>
public sealed record FlattenResult(ImmutableArray<FlattenedRule> Rules, ImmutableArray<Diagnostic> Problems);

/// <summary>
/// The filter tree: filters referring to filters. Flattening walks it depth first in document order, as libvirt does;
/// the define-time check finds reference cycles and unknown references.
/// </summary>
public static class FilterGraph
{
    public const string FilterNotFoundCode = "FilterNotFound";
    public const string ReferenceCycleCode = "FilterReferenceCycle";

    /// <summary>
    /// Flattens <paramref name="top"/> with <paramref name="variables"/>. A <c>&lt;filterref&gt;</c>'s table is its
    /// parameters with the caller's table laid over them: on a name clash the caller wins (libvirt 5.2). A reference to
    /// an unknown filter, or back to a filter on the current path, is reported and not followed; the walk goes on so
    /// that every problem is found at once.
    /// </summary>
    public static FlattenResult Flatten(IFilterSource source, FilterDefinition top, ParameterSet variables)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(top);
        ArgumentNullException.ThrowIfNull(variables);
        var rules = ImmutableArray.CreateBuilder<FlattenedRule>();
        var problems = ImmutableArray.CreateBuilder<Diagnostic>();
        var reported = new HashSet<(string, string)>();
        var path = new List<string>();
        Walk(source, top, variables, path, rules, problems, reported);
        return new(rules.ToImmutable(), problems.ToImmutable());
    }

    private static void Walk(
        IFilterSource source, FilterDefinition filter, ParameterSet variables, List<string> path,
        ImmutableArray<FlattenedRule>.Builder rules, ImmutableArray<Diagnostic>.Builder problems, HashSet<(string, string)> reported)
    {
        path.Add(filter.Name);
        ImmutableArray<string>? pathSnapshot = null;
        foreach (var entry in filter.Entries)
        {
            switch (entry)
            {
                case FilterRule rule:
                    pathSnapshot ??= [.. path];
                    rules.Add(new(filter, rule, variables, pathSnapshot.Value));
                    break;
                case FilterReference reference:
                    if (path.Contains(reference.Filter, StringComparer.Ordinal))
                    {
                        if (reported.Add((filter.Name, "cycle:" + reference.Filter)))
                        {
                            problems.Add(CycleError(filter.Name, [.. path, reference.Filter]));
                        }
                        break;
                    }
                    var child = source.Find(reference.Filter);
                    if (child is null)
                    {
                        if (reported.Add((filter.Name, reference.Filter)))
                        {
                            problems.Add(Diagnostic.Error(FilterNotFoundCode,
                                $"Filter '{filter.Name}' refers to filter '{reference.Filter}', which does not exist.",
                                DiagnosticCategory.ObjectNotFound) with { Filter = filter.Name, Element = "filterref", Attribute = "filter", Value = reference.Filter });
                        }
                        break;
                    }
                    Walk(source, child, variables.Over(reference.Parameters), path, rules, problems, reported);
                    break;
            }
        }
        path.RemoveAt(path.Count - 1);
    }

    /// <summary>
    /// The define-time check for <paramref name="candidate"/> (which replaces any filter of its name in
    /// <paramref name="source"/>): an error for a reference cycle through it, a warning for each reference to a filter
    /// that does not exist (libvirt tolerates those until instantiation).
    /// </summary>
    public static ImmutableArray<Diagnostic> CheckDefinition(IFilterSource source, FilterDefinition candidate)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(candidate);
        var result = ImmutableArray.CreateBuilder<Diagnostic>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var path = new List<string>();

        FilterDefinition? Lookup(string name) => name == candidate.Name ? candidate : source.Find(name);

        bool Visit(FilterDefinition filter)
        {
            path.Add(filter.Name);
            foreach (var reference in filter.References)
            {
                if (reference.Filter == candidate.Name)
                {
                    result.Add(CycleError(candidate.Name, [.. path, reference.Filter]));
                    return true;
                }
                if (!visited.Add(reference.Filter))
                {
                    continue;
                }
                var child = Lookup(reference.Filter);
                if (child is null)
                {
                    result.Add(Diagnostic.Warning("FilterReferenceUnknown",
                        $"Filter '{filter.Name}' refers to filter '{reference.Filter}', which does not exist (yet).")
                        with { Filter = filter.Name, Element = "filterref", Attribute = "filter", Value = reference.Filter });
                    continue;
                }
                if (Visit(child))
                {
                    return true;
                }
            }
            path.RemoveAt(path.Count - 1);
            return false;
        }

        Visit(candidate);
        return result.ToImmutable();
    }

    private static Diagnostic CycleError(string filter, IReadOnlyList<string> cycle) =>
        Diagnostic.Error(ReferenceCycleCode,
            $"Filter references form a loop: {string.Join(" -> ", cycle)}.", DiagnosticCategory.InvalidOperation)
        with { Filter = filter, Element = "filterref", Attribute = "filter", Value = cycle[^1] };
}
