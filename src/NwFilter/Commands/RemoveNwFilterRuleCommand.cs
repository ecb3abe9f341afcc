using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

namespace NwFilter.Commands;

/// <summary>
/// Removes rules from a filter in the filter store, keeping its other rules and references.
/// </summary>
/// <remarks>
/// Remove-NwFilterRule takes rules out of an existing filter. Say which rule with -Rule, a rule object that matches
/// it: the same action, direction, protocol, attributes and priority, such as New-NwFilterRule makes or Get-NwFilter
/// returns in a filter's Rules. Or say it with -Priority, the priority of the rule to remove.
///
/// Each rule to remove must match exactly one rule of the filter. One that matches none is an error (RuleNotFound);
/// one that matches several, such as a priority that two rules share, is an error too (AmbiguousRule), and the
/// message lists the rules it matches. -All removes every rule that matches instead. A failed item does not stop the
/// others: the rules that match are removed.
///
/// Rules from the pipeline are gathered per filter and removed in one change per filter when the pipeline ends. That
/// change is a define, as with Set-NwFilter: the bindings that use the filter are re-applied live without the removed
/// rules, and you are told which. When re-applying fails, the filter stays as it was. A filter that does not exist is
/// an error (FilterNotFound).
///
/// Each rule is confirmed on its own: -WhatIf lists every rule that would be removed, with the bindings the change
/// would re-apply, and -Confirm asks for each.
/// </remarks>
/// <example>
/// <code>Remove-NwFilterRule -Filter web -Rule (New-NwFilterRule accept in tcp -DstPortStart 8080)</code>
/// <para>Removes the rule that lets TCP port 8080 in; the bindings using web are updated at once.</para>
/// </example>
/// <example>
/// <code>(Get-NwFilter web).Rules | Where-Object Protocol -eq Udp | Remove-NwFilterRule -Filter web</code>
/// <para>Removes every UDP rule of the filter, in one change.</para>
/// </example>
/// <example>
/// <code>Remove-NwFilterRule web -Priority 100 -All -WhatIf</code>
/// <para>Shows every rule of priority 100 that would be removed, without removing them.</para>
/// </example>
/// <seealso cref="AddNwFilterRuleCommand"/>
/// <seealso cref="NewNwFilterRuleCommand"/>
/// <seealso cref="SetNwFilterCommand"/>
/// <seealso cref="GetNwFilterCommand"/>
[Cmdlet(VerbsCommon.Remove, "NwFilterRule", DefaultParameterSetName = RuleSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FilterDefinition))]
public sealed class RemoveNwFilterRuleCommand : NwFilterCmdlet
{
    private const string RuleSet = "Rule";
    private const string PrioritySet = "Priority";

    private readonly PendingEdits<object> _pending = new();
    private FilterStore _store = null!;

    /// <summary>The name of the filter to remove the rules from. A FilterDefinition from the pipeline gives its Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Filter { get; set; } = "";

    /// <summary>Rule objects matching the rules to remove (action, direction, protocol, attributes, priority).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, ParameterSetName = RuleSet)]
    public FilterRule[] Rule { get; set; } = [];

    /// <summary>The priorities of the rules to remove (-1000 to 1000).</summary>
    [Parameter(Mandatory = true, ParameterSetName = PrioritySet)]
    [ValidateRange(-1000, 1000)]
    public int[] Priority { get; set; } = [];

    /// <summary>Remove every rule that matches, instead of refusing a match of several rules (AmbiguousRule).</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    /// <summary>Return the filter as stored after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing() => _store = FilterStoreAccess.Open();

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case RuleSet:
                _pending.Add(Filter, Rule);
                break;
            case PrioritySet:
                _pending.Add(Filter, Priority.Cast<object>());
                break;
            default:
                throw new InvalidOperationException("unknown parameter set " + ParameterSetName);
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        foreach (var (name, items) in _pending.Filters)
        {
            if (FilterRuleEditing.Find(this, _store, name) is not { } stored)
            {
                continue;
            }
            var entries = stored.Definition.Entries;
            var removed = new HashSet<int>();
            var target = FilterRuleEditing.Target(_store, name);
            foreach (var item in items)
            {
                var (what, matches) = item switch
                {
                    FilterRule rule => (FilterRuleEditing.Quoted(rule), Indexes(entries, r => FilterRuleEditing.Matches(r, rule))),
                    int priority => ($"of priority {priority}", Indexes(entries, r => r.Priority == priority)),
                    _ => throw new InvalidOperationException("unknown item " + item),
                };
                matches.RemoveAll(removed.Contains);
                if (matches.Count == 0)
                {
                    WriteError(FilterRuleEditing.Error(FilterRuleEditing.RuleNotFound,
                        $"Filter '{name}' has no rule {(item is FilterRule ? "matching " : "")}{what}" +
                        (removed.Count > 0 && item is FilterRule ? " (besides those already removed)." : "."),
                        DiagnosticCategory.ObjectNotFound, name, item));
                    continue;
                }
                if (matches.Count > 1 && !All)
                {
                    WriteError(FilterRuleEditing.Error(FilterRuleEditing.AmbiguousRule,
                        $"Filter '{name}' has {matches.Count} rules {(item is FilterRule ? "matching " : "")}{what}: " +
                        $"{string.Join(", ", matches.Select(i => FilterRuleEditing.Quoted((FilterRule)entries[i])))}. " +
                        "Give the rule itself with -Rule, or add -All to remove every one of them.",
                        DiagnosticCategory.InvalidArgument, name, item));
                    continue;
                }
                foreach (var index in matches)
                {
                    if (ShouldProcess(target, $"Remove rule {FilterRuleEditing.Quoted((FilterRule)entries[index])}"))
                    {
                        removed.Add(index);
                    }
                }
            }
            if (removed.Count == 0)
            {
                continue;
            }
            if (FilterRuleEditing.Define(this, FilterRuleEditing.WithEntries(stored.Definition, entries.Where((_, i) => !removed.Contains(i))), stored.Definition, PassThru))
            {
                WriteVerbose($"Removed {removed.Count} rule{(removed.Count == 1 ? "" : "s")} from filter '{name}': " +
                    $"{string.Join(", ", removed.Order().Select(i => FilterRuleEditing.Quoted((FilterRule)entries[i])))}.");
            }
        }
    }

    /// <summary>The indexes in <paramref name="entries"/> of the rules that match.</summary>
    private static List<int> Indexes(IReadOnlyList<FilterEntry> entries, Func<FilterRule, bool> match) =>
        [.. entries.Select((e, i) => (e, i)).Where(x => x.e is FilterRule r && match(r)).Select(x => x.i)];
}
