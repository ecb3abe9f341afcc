using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

namespace NwFilter.Commands;

/// <summary>
/// Adds rules to a filter in the filter store, keeping its other rules and references.
/// </summary>
/// <remarks>
/// Add-NwFilterRule appends rules, as New-NwFilterRule makes them, to an existing filter. The filter's other rules,
/// its references, chain and UUID stay as they are. Where a rule runs is set by its priority (lower runs first); rules
/// of the same priority run in the order the filter lists them, so an added rule runs after those already there.
///
/// Rules from the pipeline are gathered per filter and stored in one change per filter when the pipeline ends. That
/// change is a define, as with Set-NwFilter: the bindings that use the filter, directly or through other filters,
/// are re-applied live with the new rules, and you are told which ("Re-applied 2 bindings: vnet0, vnet1."). When
/// re-applying fails, the filter stays as it was.
///
/// A rule the filter already has exactly is not added again: you get a warning instead, so running the same command
/// twice changes nothing. A filter that does not exist is an error (FilterNotFound): create it with Set-NwFilter.
/// Adding rules to a built-in filter such as clean-traffic defines your own copy of it, which shadows the built-in
/// one until you remove it with Remove-NwFilter.
///
/// Each rule is confirmed on its own: -WhatIf lists every rule that would be added, with the bindings the change would
/// re-apply, and -Confirm asks for each.
/// </remarks>
/// <example>
/// <code>Add-NwFilterRule -Filter web -Rule (New-NwFilterRule accept in tcp -DstPortStart 443)</code>
/// <para>Lets HTTPS in on every port whose binding uses the filter web; those bindings are updated at once.</para>
/// </example>
/// <example>
/// <code>@(
///     New-NwFilterRule accept in tcp -DstPortStart 8080
///     New-NwFilterRule accept in tcp -DstPortStart 8443
/// ) | Add-NwFilterRule -Filter web -PassThru</code>
/// <para>Adds two rules in one change of the filter and returns the filter as stored.</para>
/// </example>
/// <example>
/// <code>Add-NwFilterRule web (New-NwFilterRule drop out udp -DstPortStart 53) -WhatIf</code>
/// <para>Shows the rule that would be added, without adding it.</para>
/// </example>
/// <seealso cref="RemoveNwFilterRuleCommand"/>
/// <seealso cref="NewNwFilterRuleCommand"/>
/// <seealso cref="SetNwFilterCommand"/>
/// <seealso cref="GetNwFilterCommand"/>
[Cmdlet(VerbsCommon.Add, "NwFilterRule", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FilterDefinition))]
public sealed class AddNwFilterRuleCommand : NwFilterCmdlet
{
    private readonly PendingEdits<FilterRule> _pending = new();
    private FilterStore _store = null!;

    /// <summary>The name of the filter to add the rules to. A FilterDefinition from the pipeline gives its Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Filter { get; set; } = "";

    /// <summary>The rules to add, in order, as New-NwFilterRule makes them.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
    public FilterRule[] Rule { get; set; } = [];

    /// <summary>Return the filter as stored after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing() => _store = FilterStoreAccess.Open();

    /// <inheritdoc/>
    protected override void ProcessRecord() => _pending.Add(Filter, Rule);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        foreach (var (name, rules) in _pending.Filters)
        {
            if (FilterRuleEditing.Find(this, _store, name) is not { } stored)
            {
                continue;
            }
            var current = stored.Definition.Rules.ToList();
            var added = new List<FilterRule>();
            var target = FilterRuleEditing.Target(_store, name);
            foreach (var rule in rules)
            {
                if (current.Concat(added).Any(r => FilterRuleEditing.Matches(r, rule)))
                {
                    WriteWarning($"Filter '{name}' already has the rule {FilterRuleEditing.Quoted(rule)}; it is not added again.");
                    continue;
                }
                if (ShouldProcess(target, $"Add rule {FilterRuleEditing.Quoted(rule)}"))
                {
                    added.Add(rule);
                }
            }
            if (added.Count == 0)
            {
                continue;
            }
            if (FilterRuleEditing.Define(this, FilterRuleEditing.WithEntries(stored.Definition, [.. stored.Definition.Entries, .. added]), stored.Definition, PassThru))
            {
                WriteVerbose($"Added {added.Count} rule{(added.Count == 1 ? "" : "s")} to filter '{name}': {string.Join(", ", added.Select(FilterRuleEditing.Quoted))}.");
            }
        }
    }
}
