using System.Management.Automation;
using NwFilter.Commands.Output;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// What Add-NwFilterRule and Remove-NwFilterRule share: the pending edits of each filter (collected from the
/// pipeline, applied once per filter at the end), how a rule object matches a stored rule, and the one define
/// request per filter that stores the new rule list and re-applies the bindings using it (as Set-NwFilter does).
/// </summary>
internal static class FilterRuleEditing
{
    /// <summary>The error id of a rule to remove that the filter does not have.</summary>
    internal const string RuleNotFound = "RuleNotFound";

    /// <summary>The error id of a rule to remove that matches several rules of the filter (without -All).</summary>
    internal const string AmbiguousRule = "AmbiguousRule";

    /// <summary>
    /// True when <paramref name="stored"/> is the rule <paramref name="wanted"/> describes: the same action, direction,
    /// protocol, priority, state match and attributes (in any order: a hashtable has none).
    /// </summary>
    internal static bool Matches(FilterRule stored, FilterRule wanted) =>
        stored.Action == wanted.Action && stored.Direction == wanted.Direction && stored.Protocol == wanted.Protocol &&
        stored.Priority == wanted.Priority && stored.StateMatch == wanted.StateMatch &&
        stored.Attributes.Length == wanted.Attributes.Length && stored.Attributes.All(a => wanted.Attributes.Contains(a));

    /// <summary>The stored filter <paramref name="name"/>; null after a FilterNotFound (or unreadable file) error record.</summary>
    internal static StoredFilter? Find(NwFilterCmdlet cmdlet, FilterStore store, string name)
    {
        StoredFilter? stored;
        try
        {
            stored = store.Get(name);
        }
        catch (NwFilterException e)
        {
            cmdlet.WriteError(ErrorRecords.From(e, name));
            return null;
        }
        if (stored is null)
        {
            cmdlet.WriteError(ErrorRecords.From(new NwFilterException(FilterStore.NotFound(name)), name));
        }
        return stored;
    }

    /// <summary>The filter with <paramref name="entries"/> as its references and rules, in that order.</summary>
    internal static FilterDefinition WithEntries(FilterDefinition filter, IEnumerable<FilterEntry> entries) =>
        filter with { Entries = [.. entries] };

    /// <summary>
    /// Stores <paramref name="updated"/> in one define request (its bindings re-applied live; on failure nothing
    /// changes); writes its error or, with <paramref name="passThru"/>, the filter as stored. True on success.
    /// </summary>
    internal static bool Define(NwFilterCmdlet cmdlet, FilterDefinition updated, FilterDefinition readAs, bool passThru)
    {
        var runtime = NwFilterCmdlet.Runtime;
        var host = cmdlet.NewHost();
        // Stored only if the filter is still what this edit read: a concurrent edit is never overwritten.
        var expected = new Dictionary<string, FilterDefinition?>(StringComparer.Ordinal) { [readAs.Name] = readAs };
        var response = host.Run(token => Doors.HandleAsync(runtime, new DefineFiltersRequest([updated], AllOrNothing: true, Expected: expected), host, token));
        if (response.Error is { } error)
        {
            cmdlet.WriteError(ErrorRecords.From(error, updated.Name));
            return false;
        }
        foreach (var item in response.Items)
        {
            var result = item.Result!;
            foreach (var d in result.Warnings.Where(d => d.Severity == DiagnosticSeverity.Warning))
            {
                cmdlet.WriteWarning(d.ToString());
            }
            if (passThru)
            {
                cmdlet.WriteObject(FilterStoreAccess.ForOutput(result.Filter));
            }
        }
        return true;
    }

    /// <summary>A rule in quotes for messages: <c>'accept in tcp dstportstart=22 priority=500'</c>.</summary>
    internal static string Quoted(FilterRule rule) => $"'{RuleText.Rule(rule)}'";

    /// <summary>
    /// The ShouldProcess target of a filter, naming the bindings its change re-applies (in every namespace), so that
    /// -WhatIf and -Confirm say that live rules change.
    /// </summary>
    internal static string Target(FilterStore store, string name)
    {
        var target = $"filter '{name}' in {store.Directory}";
        var ports = UsedBy(name);
        return ports.Count == 0 ? target : $"{target}, re-applying {(ports.Count == 1 ? "1 binding" : $"{ports.Count} bindings")}: {string.Join(", ", ports)}";
    }

    /// <summary>The port devices whose bindings use the filter, directly or through references ("vnet0", or "vnet0 in network namespace lab").</summary>
    private static List<string> UsedBy(string name)
    {
        var runtime = NwFilterCmdlet.Runtime;
        var ports = new List<string>();
        foreach (var ns in runtime.NamespacesWithBindings())
        {
            try
            {
                var bindings = runtime.Manager(ns).Store.List().Bindings;
                ports.AddRange(bindings.Where(b => BindingManager.Uses(runtime.Filters, b.Filter, [name]))
                    .Select(b => ns is null ? b.PortDevice : $"{b.PortDevice} in network namespace {ns}"));
            }
            catch (NwFilterException)
            {
                // An unreadable binding folder: the define itself reports what it cannot re-apply.
            }
        }
        return ports;
    }

    /// <summary>An error record for one rule (its target is the rule, or the priority, the user gave).</summary>
    internal static ErrorRecord Error(string code, string message, DiagnosticCategory category, string filter, object target) =>
        ErrorRecords.From(new NwFilterException(Diagnostic.Error(code, message, category) with { Filter = filter }), target);
}

/// <summary>The edits asked of one filter, in the order they came down the pipeline.</summary>
/// <typeparam name="T">What one edit is: a rule, or a priority.</typeparam>
internal sealed class PendingEdits<T>
{
    private readonly List<(string Filter, List<T> Items)> _filters = [];

    /// <summary>Adds <paramref name="items"/> to the edits of <paramref name="filter"/>.</summary>
    public void Add(string filter, IEnumerable<T> items)
    {
        var index = _filters.FindIndex(f => f.Filter == filter);
        if (index < 0)
        {
            _filters.Add((filter, [.. items]));
        }
        else
        {
            _filters[index].Items.AddRange(items);
        }
    }

    /// <summary>Each filter with its edits, in the order the filters first came.</summary>
    public IReadOnlyList<(string Filter, List<T> Items)> Filters => _filters;
}
