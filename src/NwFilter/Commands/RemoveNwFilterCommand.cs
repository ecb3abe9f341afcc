using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;

namespace NwFilter.Commands;

/// <summary>
/// Removes network filters from the filter store.
/// </summary>
/// <remarks>
/// Remove-NwFilter deletes defined filters, as virsh nwfilter-undefine does. A filter that a filter binding uses,
/// directly or through the filters that reference it, is not removed (FilterInUse). Filters that still reference a
/// removed filter are left as they are, and each gets a warning: they fail to instantiate until the filter is
/// defined again.
///
/// The built-in filters (such as clean-traffic) cannot be removed (BuiltInFilterNotRemovable). Removing a definition
/// that shadows a built-in filter makes the built-in one visible again. With wildcards, built-in filters that are not
/// redefined are skipped silently.
///
/// A name without wildcards that matches no filter is an error (FilterNotFound).
/// </remarks>
/// <example>
/// <code>Remove-NwFilter -Name test-eth0</code>
/// <para>Removes the filter test-eth0.</para>
/// </example>
/// <example>
/// <code>Get-NwFilter | Where-Object Origin -eq Redefined | Remove-NwFilter -WhatIf</code>
/// <para>Shows which redefinitions of built-in filters would be removed, restoring the built-in versions.</para>
/// </example>
/// <example>
/// <code>Remove-NwFilter -Name 'lab-*' -Confirm:$false</code>
/// <para>Removes every filter whose name starts with lab-, without asking.</para>
/// </example>
[Cmdlet(VerbsCommon.Remove, "NwFilter", DefaultParameterSetName = NameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
public sealed class RemoveNwFilterCommand : NwFilterCmdlet
{
    private const string NameSet = "Name";
    private const string InputObjectSet = "InputObject";

    private FilterStore _store = null!;

    /// <summary>The names of the filters to remove. Wildcards are allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = NameSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Filters to remove, such as those from Get-NwFilter.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public FilterDefinition[] InputObject { get; set; } = [];

    /// <inheritdoc/>
    protected override void BeginProcessing() => _store = FilterStoreAccess.Open();

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case NameSet:
                foreach (var name in Name)
                {
                    if (WildcardPattern.ContainsWildcardCharacters(name))
                    {
                        if (Pattern(name) is not { } pattern)
                        {
                            continue;
                        }
                        foreach (var filter in _store.List().Filters.Where(f => f.Origin != FilterOrigin.BuiltIn && pattern.IsMatch(f.Name)))
                        {
                            Remove(filter.Name, filter.Name);
                        }
                    }
                    else
                    {
                        Remove(name, name);
                    }
                }
                break;
            case InputObjectSet:
                foreach (var filter in InputObject)
                {
                    Remove(filter.Name, filter);
                }
                break;
            default:
                throw new InvalidOperationException("unknown parameter set " + ParameterSetName);
        }
    }

    private void Remove(string name, object target)
    {
        if (!ShouldProcess($"filter '{name}' in {_store.Directory}", "Remove filter"))
        {
            return;
        }
        var runtime = Runtime;
        var host = NewHost();
        var response = host.Run(token => Doors.HandleAsync(runtime, new UndefineFilterRequest(name), host, token));
        if (response.Error is { } failed)
        {
            WriteError(failed, target);
            return;
        }
        var result = response.Result!;
        WriteWarnings(result.Warnings);
        WriteVerbose(result.Revealed is null
            ? $"Removed filter '{name}'."
            : $"Removed filter '{name}'; the built-in filter '{name}' is in effect again.");
    }
}
