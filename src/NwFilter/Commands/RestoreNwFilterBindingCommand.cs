using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Commands;

/// <summary>
/// Applies the stored bindings to the firewall again, after a flush, a firewalld reload or a restart.
/// </summary>
/// <remarks>
/// Restore-NwFilterBinding re-applies stored bindings as libvirt does when its daemon starts: every binding of the
/// namespace, or those of -PortDevice (wildcards allowed), compiled with the filters as they are now and applied
/// together (one build transaction per family, one swap for all). Restoring every binding also removes NwFilter
/// chains of port devices that have no binding (left by a crash or by hand) and says so in a warning.
///
/// It is safe to run at any time: bindings whose rules are in place are rebuilt and swapped without a gap.
/// Test-NwFilterBinding tells whether it is needed. Changing the firewall needs root.
/// </remarks>
/// <example>
/// <code>Restore-NwFilterBinding -Confirm:$false</code>
/// <para>Re-applies every binding, for example after 'nft flush ruleset'.</para>
/// </example>
/// <example>
/// <code>Test-NwFilterBinding | Where-Object Status -ne InSync | Restore-NwFilterBinding -Confirm:$false -PassThru</code>
/// <para>Re-applies only the bindings whose rules drifted, and lists them.</para>
/// </example>
[Cmdlet(VerbsData.Restore, "NwFilterBinding", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(FilterBinding))]
public sealed class RestoreNwFilterBindingCommand : NwFilterCmdlet
{
    private readonly List<string> _ports = [];
    private bool _all;

    /// <summary>The port devices whose bindings to restore. Wildcards are allowed; the default is every binding.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PortDeviceCompleter))]
    public string[] PortDevice { get; set; } = ["*"];

    /// <summary>The network namespace whose bindings to restore (default: NWFILTER_NETNS, else the host's own).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NetworkNamespace { get; set; }

    /// <summary>Return each binding restored.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var ns = BindingAccess.Namespace(NetworkNamespace);
        var stored = Core.Store.BindingStore.Open(Core.Store.StoreLocation.Resolve(), ns).List().Bindings;
        foreach (var name in PortDevice)
        {
            var pattern = WildcardPattern.Get(name, WildcardOptions.CultureInvariant);
            var found = stored.Where(b => pattern.IsMatch(b.PortDevice)).ToList();
            if (found.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
            {
                WriteError(Diagnostic.Error(Core.Apply.ApplyCodes.BindingNotFound, $"No binding for port device '{name}'.", DiagnosticCategory.ObjectNotFound), name);
            }
            _all |= name == "*";
            foreach (var binding in found.Where(b => !_ports.Contains(b.PortDevice)))
            {
                if (ShouldProcess($"port {binding.PortDevice}{(ns is null ? "" : " in network namespace " + ns)}", $"Re-apply filter '{binding.Filter}'"))
                {
                    _ports.Add(binding.PortDevice);
                }
                else
                {
                    _all = false;
                }
            }
        }
    }

    protected override void EndProcessing()
    {
        if (_ports.Count == 0 && !_all)
        {
            return;
        }
        var manager = BindingAccess.Open(BindingAccess.Namespace(NetworkNamespace));
        var result = BindingAccess.RunWithProgress(this, "Restoring network filter bindings",
            progress => manager.RestoreAsync(_all ? null : _ports, progress, CancellationToken));
        WriteWarnings(result.Warnings);
        foreach (var item in result.Items)
        {
            if (item.Error is { } error)
            {
                WriteError(error, item.PortDevice);
            }
            else if (PassThru)
            {
                WriteObject(BindingAccess.ForOutput(item.Binding!, manager.NetworkNamespace));
            }
        }
    }
}
