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
internal sealed record FlattenedRule(FilterDefinition Filter, FilterRule Rule, ParameterSet Variables, ImmutableArray<string> Path);

/// <summary>The rules of a filter tree in document order, and every problem met on the way.</summary>
internal sealed record FlattenResult(ImmutableArray<FlattenedRule> Rules, ImmutableArray<Diagnostic> Problems);

/// <summary>
/// The filter tree: filters referring to filters. Flattening walks it depth first in document order, as libvirt does;
/// <see cref="FindLoop"/> is the one loop check (define time and instantiation time share its definition and its
/// error, <see cref="FilterLoopCode"/>). Flattening is bounded (docs/design/limits.md): reference depth, references
/// followed and rules reached each have a limit and an error id.
/// </summary>
internal static class FilterGraph
{
    public const string FilterNotFoundCode = "FilterNotFound";

    /// <summary>A filter tree that refers back to a filter on its own path (at define time or at instantiation).</summary>
    public const string FilterLoopCode = "FilterLoop";

    /// <summary>A chain of references deeper than <see cref="Limits.MaxReferenceDepth"/>.</summary>
    public const string ReferenceTooDeepCode = "FilterReferenceTooDeep";

    /// <summary>More than <see cref="Limits.MaxReferencesFollowed"/> references followed (a diamond with too many paths).</summary>
    public const string TooManyReferencesCode = "TooManyFilterReferences";

    /// <summary>More than <see cref="Limits.MaxRuleInstances"/> rules (or rule instances) for one binding.</summary>
    public const string TooManyRuleInstancesCode = "TooManyRuleInstances";

    /// <summary>
    /// Flattens <paramref name="top"/> with <paramref name="variables"/>. A <c>&lt;filterref&gt;</c>'s table is its
    /// parameters with the caller's table laid over them: on a name clash the caller wins (libvirt 5.2). A reference to
    /// an unknown filter, or back to a filter on the current path (a loop), is reported and not followed; the walk goes
    /// on so that every problem is found at once. A limit reached is reported and ends the walk.
    /// </summary>
    public static FlattenResult Flatten(IFilterSource source, FilterDefinition top, ParameterSet variables)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(top);
        ArgumentNullException.ThrowIfNull(variables);
        var walk = new Walker(source);
        walk.Walk(top, variables);
        return new(walk.Rules.ToImmutable(), walk.Problems.ToImmutable());
    }

    private sealed class Walker(IFilterSource source)
    {
        private readonly HashSet<(string, string)> _reported = [];
        private readonly List<string> _path = [];
        private int _followed;
        private bool _stopped;

        public ImmutableArray<FlattenedRule>.Builder Rules { get; } = ImmutableArray.CreateBuilder<FlattenedRule>();
        public ImmutableArray<Diagnostic>.Builder Problems { get; } = ImmutableArray.CreateBuilder<Diagnostic>();

        public void Walk(FilterDefinition filter, ParameterSet variables)
        {
            _path.Add(filter.Name);
            ImmutableArray<string>? pathSnapshot = null;
            foreach (var entry in filter.Entries)
            {
                if (_stopped)
                {
                    break;
                }
                switch (entry)
                {
                    case FilterRule rule:
                        if (Rules.Count >= Limits.MaxRuleInstances)
                        {
                            Stop(Diagnostic.Error(TooManyRuleInstancesCode,
                                $"Filter '{_path[0]}' reaches more than {Limits.MaxRuleInstances:N0} rules through its references; the limit is {Limits.MaxRuleInstances:N0} rule instances per binding.",
                                DiagnosticCategory.InvalidData) with { Filter = filter.Name, Value = _path[0] });
                            break;
                        }
                        pathSnapshot ??= [.. _path];
                        Rules.Add(new(filter, rule, variables, pathSnapshot.Value));
                        break;
                    case FilterReference reference:
                        Follow(filter, reference, variables);
                        break;
                }
            }
            _path.RemoveAt(_path.Count - 1);
        }

        private void Follow(FilterDefinition filter, FilterReference reference, ParameterSet variables)
        {
            if (_path.Contains(reference.Filter, StringComparer.Ordinal))
            {
                if (_reported.Add((filter.Name, "loop:" + reference.Filter)))
                {
                    Problems.Add(LoopError(filter.Name, [.. _path, reference.Filter]));
                }
                return;
            }
            if (_path.Count >= Limits.MaxReferenceDepth)
            {
                Stop(Diagnostic.Error(ReferenceTooDeepCode,
                    $"Filter references from '{_path[0]}' go deeper than {Limits.MaxReferenceDepth} filters (at '{filter.Name}' -> '{reference.Filter}').",
                    DiagnosticCategory.InvalidData) with { Filter = filter.Name, Element = "filterref", Attribute = "filter", Value = reference.Filter });
                return;
            }
            if (++_followed > Limits.MaxReferencesFollowed)
            {
                Stop(Diagnostic.Error(TooManyReferencesCode,
                    $"Filter '{_path[0]}' leads through more than {Limits.MaxReferencesFollowed:N0} filter references (each path through a shared filter counts).",
                    DiagnosticCategory.InvalidData) with { Filter = filter.Name, Element = "filterref", Attribute = "filter", Value = reference.Filter });
                return;
            }
            var child = source.Find(reference.Filter);
            if (child is null)
            {
                if (_reported.Add((filter.Name, reference.Filter)))
                {
                    Problems.Add(Diagnostic.Error(FilterNotFoundCode,
                        $"Filter '{filter.Name}' refers to filter '{reference.Filter}', which does not exist.",
                        DiagnosticCategory.ObjectNotFound) with { Filter = filter.Name, Element = "filterref", Attribute = "filter", Value = reference.Filter });
                }
                return;
            }
            Walk(child, variables.Over(reference.Parameters));
        }

        private void Stop(Diagnostic limit)
        {
            Problems.Add(limit);
            _stopped = true;
        }
    }

    /// <summary>
    /// The one loop check: the first loop of references reachable from <paramref name="start"/>, as the names along
    /// the path to it and around it (<c>a, b, c, a</c>), or null. A loop is a reference back to a filter on the current
    /// path (libvirt's virNWFilterDefLoopDetect refuses those through the filter defined; a loop elsewhere in the tree
    /// cannot be instantiated either). <paramref name="lookup"/> is never asked about <paramref name="start"/>'s own
    /// name, so a candidate replaces the stored filter of its name. Iterative and linear in the filters reached.
    /// </summary>
    public static ImmutableArray<string>? FindLoop(FilterDefinition start, Func<string, FilterDefinition?> lookup)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(lookup);
        var path = new List<(string Name, IEnumerator<FilterReference> Next)> { (start.Name, start.References.GetEnumerator()) };
        var onPath = new HashSet<string>(StringComparer.Ordinal) { start.Name };
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (path.Count > 0)
        {
            var (name, next) = path[^1];
            if (!next.MoveNext())
            {
                next.Dispose();
                onPath.Remove(name);
                done.Add(name);
                path.RemoveAt(path.Count - 1);
                continue;
            }
            var target = next.Current.Filter;
            if (onPath.Contains(target))
            {
                return [.. path.Select(p => p.Name), target];
            }
            if (done.Contains(target))
            {
                continue;
            }
            if (lookup(target) is not { } child)
            {
                done.Add(target);
                continue;
            }
            path.Add((target, child.References.GetEnumerator()));
            onPath.Add(target);
        }
        return null;
    }

    /// <summary>The error for a loop found by <see cref="FindLoop"/> or met while flattening: one id, the loop spelled out.</summary>
    public static Diagnostic LoopError(string filter, IReadOnlyList<string> loop)
    {
        var text = string.Join(" -> ", loop);
        return Diagnostic.Error(FilterLoopCode,
            $"Filter '{filter}' is in a loop of filter references: {text}; a filter must not refer back to itself, directly or not.",
            DiagnosticCategory.InvalidOperation)
            with { Filter = filter, Element = "filterref", Attribute = "filter", Value = text };
    }
}
