using System.Management.Automation;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>
/// Brings the host to a desired NwFilter state, changing only what differs.
/// </summary>
/// <remarks>
/// Set-NwFilterState reads a state document (-Path, or -InputObject: a JSON text, an object from Get-NwFilterState,
/// or a hashtable of the same shape), compares it with the host as Test-NwFilterState does, and changes only what
/// differs: the filters that are missing or different are defined in one store transaction (all or none), then the
/// bindings that are missing or different are applied in one firewall batch, and with settings.pruneBindings the
/// bindings the document does not list are removed in one more. A filter defined from a state document gets the UUID
/// derived from its name, so hosts given the same document agree on UUIDs too; an existing filter keeps its UUID
/// (the content hash leaves UUIDs out).
///
/// A document that cannot be used changes nothing: each problem is an error naming its JSON path. A filter that
/// differs but is given only by its hash cannot be set (StateFilterContentUnknown), and nothing is changed either.
/// When the filters cannot be stored, no binding is touched; when the bindings fail, the filters stay defined (their
/// re-application already ran) and the error says which port failed.
///
/// The result says what changed (Changed, DefinedFilters, AppliedBindings, RemovedBindings) and the StateHash after.
/// A second run with the same document reports Changed False. -WhatIf shows each change (for a binding, its exact
/// firewall plan when its filters are already there) and changes nothing.
/// </remarks>
/// <example>
/// <code>Set-NwFilterState -Path ./fleet.state.json -Confirm:$false</code>
/// <para>Makes the host's filters and bindings those of the document.</para>
/// </example>
/// <example>
/// <code>Invoke-Command -Session $hosts { param($s) Set-NwFilterState -InputObject $s -Confirm:$false } -ArgumentList (Get-Content -Raw ./fleet.state.json)</code>
/// <para>Pushes one state to many hosts.</para>
/// </example>
[Cmdlet(VerbsCommon.Set, "NwFilterState", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(StateSetResult))]
public sealed class SetNwFilterStateCommand : NwFilterCmdlet
{
    private const string PathSet = "Path";
    private const string InputObjectSet = "InputObject";

    /// <summary>A JSON state document.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The desired state: an NwFilterState, a JSON text, or a hashtable or object of the same shape.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public object? InputObject { get; set; }

    /// <summary>The network namespace whose bindings to set (default: the document's, else NWFILTER_NETNS, else the host's own).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NetworkNamespace { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var runtime = Runtime;
        var desired = ParameterSetName switch
        {
            PathSet => ReadFiles([Path], literal: false).Select(f => NwFilterStateInput.ReadJson(this, f.Text, runtime.Filters.Exists, f.Path)).FirstOrDefault(),
            InputObjectSet => NwFilterStateInput.Read(this, InputObject, runtime.Filters.Exists),
            _ => throw new InvalidOperationException("unknown parameter set " + ParameterSetName),
        };
        if (desired is null)
        {
            return;
        }
        var ns = BindingAccess.Namespace(NetworkNamespace ?? desired.Settings.NetworkNamespace);
        var host = NewHost();
        var before = host.Run(token => HostState.ReadAsync(runtime, ns, token));
        StatePlan plan;
        try
        {
            plan = StatePlan.Create(desired, before.State);
        }
        catch (NwFilterException e)
        {
            NwFilterStateInput.WriteErrors(this, e, null);
            return;
        }
        if (plan.IsEmpty)
        {
            WriteVerbose("The host is in the desired state: nothing to change.");
            WriteObject(new StateSetResult(false, [], [], [], plan.Test, before.State.StateHash));
            return;
        }
        var whatIf = BindingAccess.IsWhatIf(this);

        // The filters: one all-or-nothing define, of those confirmed.
        var existing = before.State.Filters.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var filters = plan.Filters.Where(f => ShouldProcess($"filter '{f.Name}' in {runtime.Filters.Directory}", existing.Contains(f.Name) ? "Update filter" : "Create filter")).ToList();
        var defined = new List<string>();
        if (filters.Count > 0)
        {
            var response = host.Run(token => Doors.HandleAsync(runtime, new DefineFiltersRequest(filters, AllOrNothing: true), host, token));
            if (response.Error is { } error)
            {
                WriteError(error, error.Primary.Filter);
                return;
            }
            foreach (var item in response.Items)
            {
                WriteWarnings(item.Result!.Warnings);
                defined.Add(item.Input.Name);
            }
        }
        else if (plan.Filters.Length > 0 && !whatIf)
        {
            // A filter declined: the bindings that need the document's filters could be applied against the old ones.
            WriteVerbose("No filter was confirmed; the bindings are left as they are.");
            return;
        }

        // The bindings: one batch to apply (the runtime confirms each with its plan), one to remove. The runtime reports
        // each binding's error through the host (one error record per port), so they are not written again here.
        var applied = new List<string>();
        var removed = new List<string>();
        if (plan.Apply.Length > 0)
        {
            if (whatIf && plan.Filters.Length > 0)
            {
                // The plan of a binding needs its filters, which -WhatIf did not define: say what would be applied.
                foreach (var b in plan.Apply)
                {
                    ShouldProcess($"binding of port '{b.PortDevice}' to filter '{b.Filter}'", "Apply binding");
                }
            }
            else
            {
                var response = host.Run(token => Doors.HandleAsync(runtime, new ApplyBindingsRequest(plan.Apply, ns), host, token));
                foreach (var item in response.Items)
                {
                    if (item.Succeeded)
                    {
                        applied.Add(item.PortDevice);
                    }
                }
                WriteWarnings(response.Warnings);
            }
        }
        if (plan.Remove.Length > 0)
        {
            var response = host.Run(token => Doors.HandleAsync(runtime, new RemoveBindingsRequest(plan.Remove, ns), host, token));
            foreach (var item in response.Items)
            {
                if (item.Succeeded)
                {
                    removed.Add(item.PortDevice);
                }
            }
            WriteWarnings(response.Warnings);
        }
        if (whatIf)
        {
            return;
        }
        var after = host.Run(token => HostState.ReadAsync(runtime, ns, token));
        WriteObject(new StateSetResult(defined.Count + applied.Count + removed.Count > 0, [.. defined], [.. applied], [.. removed], plan.Test, after.State.StateHash));
    }
}
