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

    /// <summary>
    /// The preferred backend of a new binding that names none (nftables), taken where the kernel and libnftables allow
    /// it (<see cref="BackendSelection"/>, chosen by the runtime), and where a port without a stored binding is looked
    /// for. A stored binding keeps the backend it was applied with.
    /// </summary>
    public static IFirewallBackend Default { get; } = Get(FirewallBackendKind.Nftables);

    /// <summary>
    /// The backend of a binding file that names none (libvirt's files: &lt;backend&gt; is written for nftables only) and of
    /// a <see cref="Model.FilterBinding"/> made without one in the core: EbIpTables, the compatibility mode.
    /// </summary>
    public static IFirewallBackend Compatibility { get; } = Get(FirewallBackendKind.EbIpTables);

    public static IFirewallBackend Get(FirewallBackendKind kind) => kind switch
    {
        FirewallBackendKind.EbIpTables => EbIpTablesBackend.Instance,
        FirewallBackendKind.Nftables => NftablesBackend.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown firewall backend."),
    };

    /// <summary>The context a long-running process may hold for <paramref name="networkNamespace"/> (null when none can be held here).</summary>
    /// <param name="runner">Runs everything the context does not answer itself (already inside the namespace).</param>
    /// <param name="networkNamespace">The namespace (null: this process's own).</param>
    internal static IHeldFirewallContext? Hold(Host.IProcessRunner runner, string? networkNamespace) =>
        Nftables.Kernel.HeldNftablesContext.CanHold() ? new Nftables.Kernel.HeldNftablesContext(runner, networkNamespace) : null;

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
