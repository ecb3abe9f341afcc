using System.Management.Automation;
using System.Net.NetworkInformation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>
/// Binds a network filter to a VM's port device and applies its rules to the firewall (creates or replaces the binding).
/// </summary>
/// <remarks>
/// Invoke-NwFilterBinding does what virsh nwfilter-binding-create does: it compiles the filter for the port device with
/// the MAC address and parameters, applies the rules natively with nft (the default where the kernel's nf_tables and
/// libnftables are usable) or, with -Backend EbIpTables, with ebtables, iptables and ip6tables as libvirt does, and keeps the binding as libvirt's filterbinding XML under the state directory
/// (NWFILTER_STATE_DIR; /run/nwfilter for root). A port device that already has a binding gets the new one in its place.
///
/// Without -Backend, a port that has a binding keeps its backend; a new binding gets the default: the NWFILTER_BACKEND
/// environment variable (auto, nftables or ebiptables), else the line 'backend = ...' of nwfilter.conf in the
/// configuration directory (NWFILTER_CONFIG_DIR), else auto: Nftables where nftables is usable (probed once per
/// process and namespace), else EbIpTables, but only while the namespace has no nftables binding (then the binding is
/// refused, NftUnavailable). The choice and its reason are a verbose line and an information record (tag Backend);
/// a fallback is a warning (BackendFellBack). A binding that learns its IP address needs -Backend EbIpTables for now.
///
/// The Nftables backend applies the rules through NwFilter's own nftables tables (bridge nwfilter, and inet nwfilter for
/// layer-4 rules), all nftables bindings of a batch in one nft transaction; the binding XML records it as
/// &lt;backend name='nftables'/&gt;, and Get-NwFilterBinding shows it in the Backend column. Replacing a binding by one with
/// the other backend applies the new rules first and removes the port's old rules after, so the port is never
/// unfiltered. The nftables backend refuses what it cannot express (ipset, gratuitous ARP matching, comments with a
/// double quote), and a binding that would learn its IP address (IP learning is EbIpTables only): give IP.
///
/// Bindings from the pipeline (by property name: PortDevice, MacAddress, Filter, Parameter, Owner, OwnerUuid,
/// LinkDevice, Backend) are applied together, with few processes however many there are: the firewall is read once (one save
/// per family), every new rule is built under temporary chain names in one restore transaction per family, and one
/// nft transaction then swaps old for new across ebtables, iptables and ip6tables at once. At no moment is a port
/// unfiltered or filtered by a mix of old and new rules. If a step fails, the previous rules stay in force, the new
/// chains are removed again, and the error names the tool and the failing line.
///
/// A binding whose filter does not compile (an unknown filter, a variable without a value) gets its own error and the
/// others are applied. When the bridge's netfilter hooks are off (net.bridge.bridge-nf-call-iptables=0) the iptables
/// rules would never see bridged traffic, and a warning says so.
///
/// A filter that uses $IP (clean-traffic does) with no IP among the parameters makes the binding learn the VM's
/// address, as libvirt does, according to its CTRL_IP_LEARNING parameter: 'any' (the default) learns from the first
/// IPv4 packet, ARP or DHCP reply of the VM; 'dhcp' snoops DHCP and uses every acknowledged lease (from the servers in
/// DHCPSERVER only, when given); 'none' refuses the binding.
///
/// The port first gets the learning rules (in 'any' mode only the VM's MAC, ARP and IPv4 pass; in 'dhcp' mode only
/// DHCP), and a learner listens on the port device. The command returns at once: the learner runs as a background job
/// of type NwFilterLearningJob, named after the port device, in this session (Get-Job, Receive-Job for its events).
/// When it learns an address the binding is applied again with IP set to it.
///
/// Learned addresses are kept under the state directory; Restore-NwFilterBinding applies them again and restarts
/// learning. Stop-Job stops learning and leaves the port's current rules in force; Remove-NwFilterBinding ends the job
/// and removes the rules. The job ends with the session: to learn without one, run Restore-NwFilterBinding -Wait as a
/// service. The whole story is in about_NwFilter_Learning.
///
/// A port device that is no interface of the namespace gets a warning (PortDeviceNotFound) and the binding is made all
/// the same, so bindings can be made before their VMs start; Test-NwFilterBinding shows it as PortDeviceExists False.
/// A -NetworkNamespace that does not exist is refused before anything else (NetworkNamespaceNotFound), and without root
/// (CAP_NET_ADMIN) every change is refused before any tool runs (FirewallNeedsRoot).
///
/// -WhatIf prints the exact plan: the restore files and the nft script, read against the firewall as it is (as a user
/// who cannot read it, against one without NwFilter's chains). It starts with a summary line: the chains and rules
/// added and removed per family. See about_NwFilter_Bindings. Changing the firewall needs root. -NetworkNamespace
/// (or the NWFILTER_NETNS environment variable) applies the rules inside a named network namespace instead of the
/// host's own; each namespace has its own bindings.
/// </remarks>
/// <example>
/// <code>Invoke-NwFilterBinding -PortDevice vnet0 -MacAddress 52:54:00:7b:35:93 -Filter clean-traffic -Parameter @{ IP = '10.0.0.5' } -Owner web1</code>
/// <para>Binds clean-traffic to vnet0 (asks for confirmation first; add -Confirm:$false in scripts).</para>
/// </example>
/// <example>
/// <code>Invoke-NwFilterBinding vnet0 52:54:00:7b:35:93 test-eth0 -Parameter @{ IP = '10.0.0.5' } -WhatIf</code>
/// <para>Shows the restore files and the nft script that binding test-eth0 would run, without changing anything.</para>
/// </example>
/// <example>
/// <code>Invoke-NwFilterBinding vnet0 52:54:00:7b:35:93 clean-traffic -Parameter @{ CTRL_IP_LEARNING = 'dhcp'; DHCPSERVER = '10.0.0.1' } -Confirm:$false; Get-Job vnet0 | Receive-Job</code>
/// <para>Binds clean-traffic without an address: only DHCP from 10.0.0.1 passes until the VM gets a lease, then the
/// binding is applied with the leased address. Get-Job shows the learning job; Receive-Job its events so far.</para>
/// </example>
/// <example>
/// <code>Invoke-NwFilterBinding vnet0 52:54:00:7b:35:93 clean-traffic -Parameter @{ IP = '10.0.0.5' } -Backend Nftables -Confirm:$false</code>
/// <para>Binds clean-traffic to vnet0 with native nftables rules (one nft transaction); -WhatIf prints the nft script.</para>
/// </example>
/// <example>
/// <code>Import-Csv ./vms.csv | ForEach-Object { [pscustomobject]@{ PortDevice = $_.Port; MacAddress = $_.Mac; Filter = 'clean-traffic'; Parameter = @{ IP = $_.Ip } } } | Invoke-NwFilterBinding -Confirm:$false</code>
/// <para>Binds clean-traffic to every VM listed in a CSV file, all in one go.</para>
/// </example>
/// <seealso cref="GetNwFilterBindingCommand"/>
/// <seealso cref="RemoveNwFilterBindingCommand"/>
/// <seealso cref="RestoreNwFilterBindingCommand"/>
/// <seealso cref="TestNwFilterBindingCommand"/>
[Cmdlet(VerbsLifecycle.Invoke, "NwFilterBinding", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(FilterBinding))]
public sealed class InvokeNwFilterBindingCommand : NwFilterCmdlet
{
    // One batch per network namespace (piped bindings may name different ones), checked, confirmed and applied by the
    // runtime in EndProcessing.
    private readonly Dictionary<string, List<FilterBinding>> _batches = new(StringComparer.Ordinal);

    /// <summary>The VM's port device on the host (the tap or veth, such as vnet0).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(InterfaceCompleter))]
    public string PortDevice { get; set; } = "";

    /// <summary>The VM's MAC address on that port, such as 52:54:00:7b:35:93.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [MacAddressTransformation]
    public PhysicalAddress MacAddress { get; set; } = PhysicalAddress.None;

    /// <summary>The name of the filter to bind (from the filter store, or a built-in filter such as clean-traffic).</summary>
    [Parameter(Mandatory = true, Position = 2, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Filter { get; set; } = "";

    /// <summary>The filter's variables as a hashtable, such as @{ IP = '10.0.0.5'; DHCPSERVER = '10.0.0.1' }; an array value is a list.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Parameters")]
    [ParameterSetTransformation]
    public ParameterSet Parameter { get; set; } = ParameterSet.Empty;

    /// <summary>The owner (the VM's name) recorded in the binding; the port device when not given.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("OwnerName")]
    public string? Owner { get; set; }

    /// <summary>The owner's UUID recorded in the binding; without it one is derived from the owner's name.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public Guid OwnerUuid { get; set; }

    /// <summary>The link device (for macvtap: the parent interface), recorded in the binding.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? LinkDevice { get; set; }

    /// <summary>The firewall backend: Nftables (native nft, NwFilter's own tables, one transaction) or EbIpTables
    /// (ebtables, iptables and ip6tables, as libvirt). Recorded in the binding. Without it a port keeps the backend of its
    /// binding, and a new binding gets the default: NWFILTER_BACKEND, else 'backend =' in nwfilter.conf of the
    /// configuration directory, else Nftables where the kernel and libnftables allow it (EbIpTables where not).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public FirewallBackendKind? Backend { get; set; }

    /// <summary>Per-rule packet and byte counters for Get-NwFilterStatistic: -Counters on, -Counters:$false off; without
    /// it the binding follows 'counters =' in nwfilter.conf (or NWFILTER_COUNTERS; off when unset). Recorded in the
    /// binding. On nftables each rule then carries a counter statement (a small per-packet cost, see bench/README.md);
    /// ebtables and iptables count every rule anyway, so EbIpTables bindings have counters either way.</summary>
    [Parameter]
    public SwitchParameter Counters { get; set; }

    /// <summary>The network namespace whose firewall gets the rules (default: NWFILTER_NETNS, else the host's own).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>Return each binding applied (with LearningJob, the job learning its IP, when it learns one).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var ns = BindingAccess.Namespace(NetworkNamespace);
        if (!_batches.TryGetValue(ns ?? "", out var batch))
        {
            _batches[ns ?? ""] = batch = [];
        }
        batch.Add(Bindings.Create(PortDevice, MacAddress, Filter, Parameter, Owner, OwnerUuid, LinkDevice, Backend,
            MyInvocation.BoundParameters.ContainsKey(nameof(Counters)) ? Counters.IsPresent : null));
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        var runtime = Runtime;
        foreach (var (ns, batch) in _batches)
        {
            var host = NewHost();
            host.JobTracked = (job, _) => WriteVerbose($"Learning the IP address of {job.PortDevice} ({job.LearningMode.ToString().ToLowerInvariant()}) in job {job.Id} '{job.Name}': " +
                "see Get-Job and Receive-Job.");
            var response = host.Run(token => Doors.HandleAsync(runtime, new ApplyBindingsRequest(batch, ns.Length == 0 ? null : ns), host, token));
            if (PassThru)
            {
                foreach (var item in response.Items.Where(i => i.Succeeded && i.Binding is not null))
                {
                    WriteObject(BindingAccess.ForOutput(item.Binding!, response.NetworkNamespace, runtime));
                }
            }
        }
    }
}
