using System.Net.NetworkInformation;
using NwFilter.Core.Backends;

namespace NwFilter.Core.Model;

/// <summary>
/// libvirt's <c>&lt;filterbinding&gt;</c>: a filter, with parameters, tied to a VM's port device.
/// </summary>
/// <param name="PortDevice">The host-side port of the VM's interface (a tap or veth), e.g. <c>vnet0</c>.</param>
/// <param name="MacAddress">The VM's MAC address on that port.</param>
/// <param name="Filter">The top filter's name.</param>
public sealed record FilterBinding(string PortDevice, PhysicalAddress MacAddress, string Filter)
{
    /// <summary>The host-side port of the VM's interface (a tap or veth), e.g. <c>vnet0</c>.</summary>
    public string PortDevice { get; internal init; } = PortDevice;
    /// <summary>The VM's MAC address on that port.</summary>
    public PhysicalAddress MacAddress { get; internal init; } = MacAddress;
    /// <summary>The top filter's name.</summary>
    public string Filter { get; internal init; } = Filter;

    /// <summary>The owner (VM) name.</summary>
    public string OwnerName { get; internal init; } = "";

    /// <summary>The owner (VM) UUID.</summary>
    public Guid OwnerUuid { get; internal init; }

    /// <summary>The link device for macvtap, where traffic is watched; null otherwise.</summary>
    public string? LinkDevice { get; internal init; }

    /// <summary>The parameters given to the top filter (MAC, IP, CTRL_IP_LEARNING, ...).</summary>
    public ParameterSet Parameters { get; internal init; } = ParameterSet.Empty;

    /// <summary>
    /// The firewall backend that applies the binding's rules. Kept in the binding XML as libvirt's unmerged nftables
    /// series does (<c>&lt;backend name='nftables'/&gt;</c> after <c>&lt;filterref&gt;</c>); the default
    /// (<see cref="FirewallBackendKind.EbIpTables"/>, libvirt's 'iptables') is not written.
    /// </summary>
    public FirewallBackendKind Backend { get; internal init; } = FirewallBackendKind.EbIpTables;

    /// <summary>
    /// True for a binding a host made without naming a backend (<see cref="Runtime.Bindings.Create"/> with none): the
    /// runtime chooses its <see cref="Backend"/> (docs/design/nftables.md, "The default backend") before anything else.
    /// Never stored: a binding read back has the backend it was applied with.
    /// </summary>
    internal bool BackendUnset { get; init; }

    /// <summary>
    /// Per-rule packet and byte counters (Get-NwFilterStatistic): true on, false off, null the host's default (the
    /// <c>counters</c> setting of nwfilter.conf or NWFILTER_COUNTERS; off when unset). Only the nftables backend adds
    /// anything for it (a <c>counter</c> statement in each rule made from a rule instance); ebtables and iptables count
    /// every rule anyway, so an EbIpTables binding has counters either way and its rules stay byte-exact with libvirt's.
    /// Kept in the binding XML, when set, as <c>&lt;nwfilter:counters xmlns:nwfilter='...' enabled='yes|no'/&gt;</c>, an
    /// element of our own namespace that libvirt's reader ignores.
    /// </summary>
    public bool? Counters { get; internal init; }
}
