using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Model;

namespace NwFilter.Core.Backends;

/// <summary>
/// The factory of backends: the one place that maps a <see cref="FirewallBackendKind"/> to its
/// <see cref="IFirewallBackend"/> (PSResourceGet's ServerFactory; libvirt's list of tech drivers).
/// </summary>
internal static class FirewallBackends
{
    /// <summary>
    /// Every backend, in the order a batch runs them: a port that moves to a backend earlier in this list has its old
    /// rules removed in the later backend's own step; one that moves to a later backend, after every step
    /// (BindingManager.Backends.cs).
    /// </summary>
    public static IReadOnlyList<IFirewallBackend> All { get; } = [EbIpTablesBackend.Instance, NftablesBackend.Instance];

    /// <summary>The backend of a binding that names none, and of a port without a stored binding (libvirt's ebiptables).</summary>
    public static IFirewallBackend Default { get; } = Get(FirewallBackendKind.EbIpTables);

    public static IFirewallBackend Get(FirewallBackendKind kind) => kind switch
    {
        FirewallBackendKind.EbIpTables => EbIpTablesBackend.Instance,
        FirewallBackendKind.Nftables => NftablesBackend.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown firewall backend."),
    };

    /// <summary>The position of <paramref name="backend"/> in <see cref="All"/>.</summary>
    public static int Order(IFirewallBackend backend)
    {
        for (var i = 0; i < All.Count; i++)
        {
            if (ReferenceEquals(All[i], backend))
            {
                return i;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(backend), backend.Name, "Unknown firewall backend.");
    }
}
