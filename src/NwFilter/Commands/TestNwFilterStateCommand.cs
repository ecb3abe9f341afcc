using System.Management.Automation;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.DesiredState;

namespace NwFilter.Commands;

/// <summary>
/// Compares the host with a desired NwFilter state, or checks that another host has what this host's bindings need.
/// </summary>
/// <remarks>
/// With -Path or -InputObject (a state document: a JSON file or text, an object from Get-NwFilterState, or a hashtable
/// of the same shape), Test-NwFilterState says whether the host is in that state and exactly what differs: each
/// filter of the document that is Missing or Different (by content hash, the UUID left out), each binding that is
/// Missing or Different (with the properties that differ), and with settings.pruneBindings each binding the document
/// does not list (Unlisted). Filters the document does not list are not compared.
///
/// With -ReferenceObject (another host's state, such as Invoke-Command -Session $target { Get-NwFilterState }), it is
/// the migration check: does that host have every filter the bindings of -PortDevice (default: every binding here)
/// need, following filter references, with the same content? Each filter it lacks is Missing, each with other
/// content Different, with the ports that need it (NeededBy). Deserialized objects work: only properties are read.
///
/// Test-NwFilterState never changes anything. A document that cannot be used gets one error per problem, each naming
/// its JSON path (StateUnknownKey, StateWrongType, StateFilterInvalid, StateFilterNotFound, ...). -Quiet returns only
/// True or False.
/// </remarks>
/// <example>
/// <code>Test-NwFilterState -Path ./fleet.state.json | Select-Object -ExpandProperty Differences</code>
/// <para>Lists each filter and binding that differs from the document.</para>
/// </example>
/// <example>
/// <code>Test-NwFilterState -ReferenceObject (Invoke-Command -Session $target { Get-NwFilterState }) -PortDevice vnet0</code>
/// <para>Before moving the VM on vnet0: says whether the target host has every filter its binding needs, with the same content.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Test, "NwFilterState", DefaultParameterSetName = PathSet)]
[OutputType(typeof(StateTestResult), typeof(bool))]
public sealed class TestNwFilterStateCommand : NwFilterCmdlet
{
    private const string PathSet = "Path";
    private const string InputObjectSet = "InputObject";
    private const string ReferenceSet = "Reference";

    /// <summary>A JSON state document to compare the host with.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The desired state: an NwFilterState, a JSON text, or a hashtable or object of the same shape.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public object? InputObject { get; set; }

    /// <summary>Another host's state (Get-NwFilterState there): the migration check.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ReferenceSet)]
    public object? ReferenceObject { get; set; }

    /// <summary>The bindings (port devices) about to move; the default is every binding of this host.</summary>
    [Parameter(ParameterSetName = ReferenceSet)]
    [ValidateNotNullOrEmpty]
    public string[]? PortDevice { get; set; }

    /// <summary>The network namespace of this host's bindings (default: the document's, else NWFILTER_NETNS, else the host's own).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NetworkNamespace { get; set; }

    /// <summary>Return only True (in the desired state, or ready to migrate) or False.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var runtime = Runtime;
        NwFilterState? other;
        switch (ParameterSetName)
        {
            case PathSet:
                other = ReadFiles([Path], literal: false).Select(f => NwFilterStateInput.ReadJson(this, f.Text, runtime.Filters.Exists, f.Path)).FirstOrDefault();
                break;
            case InputObjectSet:
                other = NwFilterStateInput.Read(this, InputObject, runtime.Filters.Exists);
                break;
            case ReferenceSet:
                // A host's own state may hold a binding whose filter it lacks: that is for the comparison to show, not an input error.
                other = NwFilterStateInput.Read(this, ReferenceObject, _ => true);
                break;
            default:
                throw new InvalidOperationException("unknown parameter set " + ParameterSetName);
        }
        if (other is null)
        {
            return;
        }
        var ns = BindingAccess.Namespace(NetworkNamespace ?? (ParameterSetName == ReferenceSet ? null : other.Settings.NetworkNamespace));
        var host = NewHost();
        var snapshot = host.Run(token => HostState.ReadAsync(runtime, ns, token));
        foreach (var problem in snapshot.Problems)
        {
            WriteError(problem, problem.Source);
        }
        var result = ParameterSetName == ReferenceSet
            ? StateComparison.Migration(snapshot.State, other, PortDevice)
            : StateComparison.Compare(other, snapshot.State);
        foreach (var d in result.Differences)
        {
            WriteVerbose(d.ToString());
        }
        WriteObject(Quiet ? result.InDesiredState : result);
    }
}
