using System.Management.Automation;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.DesiredState;

namespace NwFilter.Commands;

/// <summary>
/// Gets the host's NwFilter state as data: every filter with its content hash, and every binding.
/// </summary>
/// <remarks>
/// Get-NwFilterState returns one NwFilterState object: Filters (each with Name, Hash, Origin, References and, for a
/// defined filter, its canonical XML without the UUID), Bindings (PortDevice, MacAddress, Filter, Parameters, Owner,
/// OwnerUuid, LinkDevice, Backend, Hash) of one network namespace, Settings, and StateHash.
///
/// A filter's Hash is the SHA-256 of its canonical XML without the UUID, so the same filter defined on several hosts
/// has the same hash whatever UUIDs they gave it; StateHash covers every filter and binding, so two hosts with the
/// same filters and bindings show the same StateHash. Built-in filters are listed by hash (their XML ships with the
/// module), which tells when two hosts run different versions of them.
///
/// The object is plain data: it keeps its meaning after PowerShell remoting, so the state of another host
/// (Invoke-Command -Session $s { Get-NwFilterState }) compares with Test-NwFilterState. Export-NwFilterState writes
/// the same state as JSON. Files that cannot be read are reported as errors and left out.
/// </remarks>
/// <example>
/// <code>(Get-NwFilterState).StateHash</code>
/// <para>Prints the hash of the host's whole state, to compare hosts at a glance.</para>
/// </example>
/// <example>
/// <code>Invoke-Command -Session $hosts { Get-NwFilterState } | Select-Object PSComputerName, StateHash</code>
/// <para>Shows which hosts have the same filters and bindings.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "NwFilterState")]
[OutputType(typeof(NwFilterState))]
public sealed class GetNwFilterStateCommand : NwFilterCmdlet
{
    /// <summary>The network namespace whose bindings to include (default: NWFILTER_NETNS, else the host's own).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NetworkNamespace { get; set; }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        var runtime = Runtime;
        var host = NewHost();
        var snapshot = host.Run(token => HostState.ReadAsync(runtime, BindingAccess.Namespace(NetworkNamespace), token));
        foreach (var problem in snapshot.Problems)
        {
            WriteError(problem, problem.Source);
        }
        WriteObject(snapshot.State);
    }
}
