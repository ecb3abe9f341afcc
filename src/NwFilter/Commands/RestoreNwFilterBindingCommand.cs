using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>
/// Applies the stored bindings to the firewall again, after a flush, a firewalld reload or a restart.
/// </summary>
/// <remarks>
/// Restore-NwFilterBinding re-applies stored bindings as libvirt does when its daemon starts: every binding of the
/// namespace, or those of -PortDevice (wildcards allowed), compiled with the filters as they are now and applied
/// together (one build transaction per family, one swap for all). Restoring every binding also removes NwFilter
/// chains of port devices that have no binding (left by a crash or by hand) and says so in a warning. Each binding is
/// applied by its backend (the nftables ones in one nft transaction), and the chains a port holds in the backend it
/// does not use (left when a backend change could not remove them) are removed as orphans too.
///
/// It is safe to run at any time: bindings whose rules are in place are rebuilt and swapped without a gap.
/// Test-NwFilterBinding tells whether it is needed. Changing the firewall needs root.
///
/// It says what it repaired: before acting it compares the kernel with the store (as Test-NwFilterBinding does), and
/// for each port it writes one information record (tag BindingRepaired) naming the port, what it found (rules of
/// another filter or generation, half-built chains, no rules, chains without a binding) and what it did (re-applied,
/// removed); a port found in force gets a verbose line only. After a crash, a flush or a reboot this is the record of
/// what was wrong (-InformationVariable keeps it).
///
/// Bindings that learn their IP address (a filter using $IP, no IP given) get the addresses learned before, kept under
/// the state directory, at once: an 'any'-mode binding that learned its address needs no learning again; a 'dhcp'-mode
/// binding gets its unexpired leases and DHCP snooping starts again; a binding that has learned nothing gets the
/// learning rules and a learner. Each learner runs as a job of this session (Get-Job; the job type is
/// NwFilterLearningJob, its name the port device), which ends with the session.
///
/// -Wait makes the command the learning service: after restoring, it keeps running until Ctrl+C or SIGTERM and writes
/// every learner's events to the output (one line each when piped to ForEach-Object ToString). It also watches the
/// binding store: bindings created or changed by other processes (a script that ran Invoke-NwFilterBinding and ended)
/// are taken over and learned, and learning stops for bindings removed elsewhere. When it ends it stops learning; the
/// rules in force stay. contrib/systemd/nwfilter-learning.service runs it as a systemd service.
/// </remarks>
/// <example>
/// <code>Restore-NwFilterBinding -Confirm:$false</code>
/// <para>Re-applies every binding, for example after 'nft flush ruleset'.</para>
/// </example>
/// <example>
/// <code>Test-NwFilterBinding | Where-Object Status -ne InSync | Restore-NwFilterBinding -Confirm:$false -PassThru</code>
/// <para>Re-applies only the bindings whose rules drifted, and lists them.</para>
/// </example>
/// <example>
/// <code>Restore-NwFilterBinding -Confirm:$false -InformationVariable repaired; $repaired | Where-Object Tags -contains BindingRepaired | ForEach-Object MessageData</code>
/// <para>Restores every binding and lists what it repaired, one line per port, e.g. 'vnet1: found no rules in the
/// kernel (12 missing); re-applied filter 'clean-traffic' (Nftables): its rules are in force'.</para>
/// </example>
/// <example>
/// <code>Restore-NwFilterBinding -Backend Nftables -Confirm:$false</code>
/// <para>Moves every binding of the host to the nftables backend, port by port without a moment unfiltered (the
/// nftables rules are in force before the ebtables/iptables ones go); -Backend EbIpTables moves them back.</para>
/// </example>
/// <example>
/// <code>pwsh -NoProfile -Command 'Import-Module NwFilter; Restore-NwFilterBinding -Wait -Confirm:$false | ForEach-Object ToString'</code>
/// <para>Runs the learning service in the foreground (as the systemd unit does): restores every binding, learns the
/// addresses of those that need one, and prints one line per event until Ctrl+C or SIGTERM.</para>
/// </example>
/// <seealso cref="GetNwFilterBindingCommand"/>
/// <seealso cref="InvokeNwFilterBindingCommand"/>
/// <seealso cref="RemoveNwFilterBindingCommand"/>
/// <seealso cref="TestNwFilterBindingCommand"/>
[Cmdlet(VerbsData.Restore, "NwFilterBinding", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(FilterBinding), typeof(Core.Learning.IpLearningEvent))]
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
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>
    /// Move the bindings restored to this backend: Nftables (NwFilter's own nft tables) or EbIpTables (ebtables and
    /// iptables, as libvirt). Each port moves in one kernel transaction (its old rules out and its new ones in, never
    /// both, never neither); a binding the backend cannot take (a filter nft cannot express, such as an ipset match) is
    /// restored on its own backend with a warning. Without it each binding keeps its backend.
    /// </summary>
    [Parameter]
    public FirewallBackendKind? Backend { get; set; }

    /// <summary>Return each binding restored (with LearningJob, the job learning its IP, when it learns one).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>
    /// Keep running after restoring: write the learners' events, take over bindings other processes create, until
    /// Ctrl+C or SIGTERM (the learning service).
    /// </summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var stored = BindingAccess.StoredPorts(BindingAccess.Namespace(NetworkNamespace));
        foreach (var name in PortDevice)
        {
            if (Pattern(name) is not { } pattern)
            {
                continue;
            }
            var found = stored.Where(pattern.IsMatch).ToList();
            if (found.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
            {
                WriteError(Diagnostic.Error(Core.Apply.ApplyCodes.BindingNotFound, $"No binding for port device '{name}'.", DiagnosticCategory.ObjectNotFound), name);
            }
            _all |= name == "*";
            _ports.AddRange(found.Where(p => !_ports.Contains(p)));
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (_ports.Count == 0 && !_all)
        {
            return;
        }
        var runtime = Runtime;
        var ns = runtime.Namespace(BindingAccess.Namespace(NetworkNamespace));
        var host = NewHost();
        var service = Wait ? new LearningService(this, host) : null;
        var restored = host.Run(token => Doors.HandleAsync(runtime, new RestoreBindingsRequest(_all ? null : _ports, ns) { Backend = Backend }, host, token));
        if (PassThru)
        {
            foreach (var item in restored.Items.Where(i => i.Succeeded && i.Binding is not null))
            {
                WriteObject(BindingAccess.ForOutput(item.Binding!, restored.NetworkNamespace, runtime));
            }
        }
        service?.Run(runtime, restored);
    }
}
