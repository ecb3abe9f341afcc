using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>
/// Gets the network filter bindings: which filter is bound to which VM port device, with which parameters.
/// </summary>
/// <remarks>
/// Get-NwFilterBinding lists the stored bindings, as virsh nwfilter-binding-list does, as FilterBinding objects with
/// PortDevice, MacAddress (as one writes it: 52:54:00:aa:bb:cc), Filter, Parameters (as one writes them: IP=10.0.0.1,
/// 10.0.0.2; $b.Parameters['IP'] gives the values), OwnerName, OwnerUuid, LinkDevice, Backend (EbIpTables or Nftables: which firewall backend applies its rules) and NetworkNamespace. A binding that learns its IP address (its filter uses $IP and no IP is given) also
/// has LearningMode (any or dhcp), LearningState (Learning, Learned, Stopped, Failed, or NotStarted when no learner
/// watches the port), LearnedAddress (the learned addresses, with their lease ends), Listening (a learner listens to the
/// port now), LearningHost (nwfilterd, or Session for a learner of this session) and LearningJob (the job of this
/// session that learns it).
///
/// When nwfilterd runs for this store (NWFILTER_DAEMON,
/// NWFILTER_DAEMON_SOCKET) the bindings and their learning are read from it, so a binding whose learner runs in the
/// daemon (one made by libvirt, virsh or a cmdlet through the daemon) shows the daemon's state and addresses.
///
/// Piped to ConvertTo-NwFilterXml they give libvirt's filterbinding XML (virsh
/// nwfilter-binding-dumpxml), and piped to Invoke-NwFilterBinding they apply again.
///
/// Bindings are kept under the state directory (NWFILTER_STATE_DIR), one set per network namespace: -NetworkNamespace
/// (or NWFILTER_NETNS) selects one. Reading them needs no root. -PortDevice takes wildcards; a name without
/// wildcards that has no binding is an error (BindingNotFound). Test-NwFilterBinding compares them with the firewall.
/// </remarks>
/// <example>
/// <code>Get-NwFilterBinding</code>
/// <para>Lists every binding of the host's own network namespace.</para>
/// </example>
/// <example>
/// <code>Get-NwFilterBinding | Where-Object LearningMode | Select-Object PortDevice, LearningState, LearnedAddress</code>
/// <para>Lists the bindings that learn their IP address, where their learning stands and what was learned.</para>
/// </example>
/// <example>
/// <code>Get-NwFilterBinding | Where-Object Backend -eq Nftables</code>
/// <para>Lists the bindings whose rules the native nftables backend applies.</para>
/// </example>
/// <example>
/// <code>Get-NwFilterBinding vnet0 | ConvertTo-NwFilterXml</code>
/// <para>Prints the binding of vnet0 as libvirt's filterbinding XML.</para>
/// </example>
/// <seealso cref="InvokeNwFilterBindingCommand"/>
/// <seealso cref="RemoveNwFilterBindingCommand"/>
/// <seealso cref="RestoreNwFilterBindingCommand"/>
/// <seealso cref="TestNwFilterBindingCommand"/>
[Cmdlet(VerbsCommon.Get, "NwFilterBinding")]
[OutputType(typeof(FilterBinding))]
public sealed class GetNwFilterBindingCommand : NwFilterCmdlet
{
    /// <summary>The port devices whose bindings to get. Wildcards are allowed; the default is every binding.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PortDeviceCompleter))]
    public string[] PortDevice { get; set; } = ["*"];

    /// <summary>The network namespace whose bindings to get (default: NWFILTER_NETNS, else the host's own).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var runtime = Runtime;
        var host = NewHost();
        var status = host.Run(token => Doors.HandleAsync(runtime, new BindingStatusRequest(null, BindingAccess.Namespace(NetworkNamespace)), host, token));
        var ns = status.NetworkNamespace;
        foreach (var problem in status.Problems)
        {
            WriteError(problem, problem.Source ?? ns);
        }
        foreach (var name in PortDevice)
        {
            if (Pattern(name) is not { } pattern)
            {
                continue;
            }
            var found = status.Bindings.Where(b => pattern.IsMatch(b.Binding.PortDevice)).ToList();
            if (found.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
            {
                WriteError(Diagnostic.Error(ApplyCodes.BindingNotFound,
                    $"No binding for port device '{name}'" + (ns is null ? "." : $" in network namespace {ns}."), DiagnosticCategory.ObjectNotFound), name);
            }
            foreach (var binding in found)
            {
                WriteObject(BindingAccess.ForOutput(binding, ns, runtime));
            }
        }
    }
}
