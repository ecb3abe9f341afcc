using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>
/// Removes network filter bindings: their rules leave the firewall and their files the store.
/// </summary>
/// <remarks>
/// Remove-NwFilterBinding does what virsh nwfilter-binding-delete does: everything the binding installed goes (its
/// ebtables, iptables and ip6tables chains, the links to them and its libvirt-in-post rule) in ONE nft transaction over
/// every family, so the port never keeps half of its rules. When the last binding of the namespace goes, the global
/// libvirt-in, libvirt-out, libvirt-in-post and libvirt-host-in chains go too (libvirt keeps them): no NwFilter chain is
/// left. If the transaction fails, nothing is removed and the binding stays. A binding with the nftables backend loses
/// its chains and map elements in one nft transaction of its own (all such bindings together); when the last one goes,
/// NwFilter's nftables tables go too.
///
/// Port devices come from -PortDevice or the pipeline (by property name, as Get-NwFilterBinding outputs them); all are
/// removed together. A port device without a binding is an error (BindingNotFound). -WhatIf prints the exact nft
/// script. Changing the firewall needs root.
///
/// A binding that learns its IP address stops learning first: its NwFilterLearningJob ends (Stopped; Remove-Job
/// removes it from the session) and its learned addresses are forgotten. (Stop-Job alone stops learning but keeps the
/// binding and its rules.)
/// </remarks>
/// <example>
/// <code>Remove-NwFilterBinding -PortDevice vnet0</code>
/// <para>Removes the binding of vnet0 and its rules (asks for confirmation first).</para>
/// </example>
/// <example>
/// <code>Get-NwFilterBinding | Remove-NwFilterBinding -Confirm:$false</code>
/// <para>Removes every binding; no NwFilter chain is left in the firewall.</para>
/// </example>
/// <example>
/// <code>Remove-NwFilterBinding vnet0 -WhatIf</code>
/// <para>Shows the nft script that would remove the rules of vnet0.</para>
/// </example>
/// <seealso cref="GetNwFilterBindingCommand"/>
/// <seealso cref="InvokeNwFilterBindingCommand"/>
/// <seealso cref="RestoreNwFilterBindingCommand"/>
/// <seealso cref="TestNwFilterBindingCommand"/>
[Cmdlet(VerbsCommon.Remove, "NwFilterBinding", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveNwFilterBindingCommand : NwFilterCmdlet
{
    // One batch per network namespace, confirmed and removed by the runtime in EndProcessing.
    private readonly Dictionary<string, List<string>> _batches = new(StringComparer.Ordinal);

    /// <summary>The port devices whose bindings to remove.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PortDeviceCompleter))]
    public string[] PortDevice { get; set; } = [];

    /// <summary>The network namespace whose bindings to remove (default: NWFILTER_NETNS, else the host's own).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var ns = BindingAccess.Namespace(NetworkNamespace);
        if (!_batches.TryGetValue(ns ?? "", out var ports))
        {
            _batches[ns ?? ""] = ports = [];
        }
        ports.AddRange(PortDevice);
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        var runtime = Runtime;
        foreach (var (ns, ports) in _batches)
        {
            var host = NewHost();
            host.Run(token => Doors.HandleAsync(runtime, new RemoveBindingsRequest(ports, ns.Length == 0 ? null : ns), host, token));
        }
    }
}
