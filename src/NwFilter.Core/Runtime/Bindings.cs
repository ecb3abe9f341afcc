using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Model;

namespace NwFilter.Core.Runtime;

/// <summary>How a host builds the bindings of an <see cref="ApplyBindingsRequest"/> (the model's setters are the core's own).</summary>
public static class Bindings
{
    /// <summary>
    /// A binding of <paramref name="filter"/> to <paramref name="portDevice"/>, as Invoke-NwFilterBinding makes it: the
    /// owner is the port device when not given, and the owner's uuid is derived from the owner's name when not given.
    /// Without <paramref name="backend"/> the runtime chooses it when the binding is applied: the port's stored binding's
    /// backend, else the default (nftables where usable; <see cref="BackendSelection"/>). <paramref name="counters"/>:
    /// per-rule counters on or off; null: the host's <c>counters</c> setting.
    /// </summary>
    public static FilterBinding Create(
        string portDevice,
        PhysicalAddress macAddress,
        string filter,
        ParameterSet? parameters = null,
        string? owner = null,
        Guid ownerUuid = default,
        string? linkDevice = null,
        FirewallBackendKind? backend = null,
        bool? counters = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(portDevice);
        ArgumentNullException.ThrowIfNull(macAddress);
        ArgumentException.ThrowIfNullOrEmpty(filter);
        return new FilterBinding(portDevice, macAddress, filter)
        {
            OwnerName = string.IsNullOrEmpty(owner) ? portDevice : owner,
            OwnerUuid = ownerUuid != Guid.Empty ? ownerUuid : NameBasedUuid.Create(NameBasedUuid.BuiltInFilterNamespace, "owner:" + (owner ?? portDevice)),
            LinkDevice = string.IsNullOrEmpty(linkDevice) ? null : linkDevice,
            Parameters = parameters ?? ParameterSet.Empty,
            Backend = backend ?? FirewallBackendKind.EbIpTables,
            BackendUnset = backend is null,
            Counters = counters,
        };
    }
}
