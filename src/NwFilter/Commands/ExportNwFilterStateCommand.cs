using System.Management.Automation;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Store;

namespace NwFilter.Commands;

/// <summary>
/// Writes the host's NwFilter state as a JSON state document.
/// </summary>
/// <remarks>
/// Export-NwFilterState writes what Get-NwFilterState returns as JSON (filters with their hashes and, for defined
/// filters, their XML; bindings; settings; stateHash): a state document that Test-NwFilterState and
/// Set-NwFilterState read back, on this host or another. Without -Path it returns the JSON text.
///
/// An existing file is replaced only with -Force (NoClobber otherwise). The file is written atomically.
/// </remarks>
/// <example>
/// <code>Export-NwFilterState -Path ./host1.state.json</code>
/// <para>Saves the host's state; `Set-NwFilterState -Path ./host1.state.json` on another host makes it the same.</para>
/// </example>
/// <example>
/// <code>Export-NwFilterState | ConvertFrom-Json | Select-Object -ExpandProperty filters | Where-Object origin -ne BuiltIn</code>
/// <para>Lists the filters defined on this host from the JSON form.</para>
/// </example>
[Cmdlet(VerbsData.Export, "NwFilterState", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(string))]
public sealed class ExportNwFilterStateCommand : NwFilterCmdlet
{
    /// <summary>The file to write; without it the JSON text is returned.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>Replace an existing file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

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
        var json = StateJson.Write(snapshot.State);
        if (Path is null)
        {
            WriteObject(json);
            return;
        }
        var file = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (File.Exists(file) && !Force)
        {
            WriteError(new ErrorRecord(new IOException($"The file '{file}' exists; use -Force to replace it."), "FileExists", ErrorCategory.ResourceExists, file));
            return;
        }
        if (!ShouldProcess(file, "Export NwFilter state"))
        {
            return;
        }
        try
        {
            AtomicFile.WriteAllText(file, json);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(new ErrorRecord(e, "FileWriteFailed", ErrorCategory.WriteError, file));
        }
    }
}
