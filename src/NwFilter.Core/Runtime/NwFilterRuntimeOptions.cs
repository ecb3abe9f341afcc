using NwFilter.Core.Backends;
using NwFilter.Core.Host;
using NwFilter.Core.Learning;
using NwFilter.Core.Store;

namespace NwFilter.Core.Runtime;

/// <summary>What a host gives the <see cref="NwFilterRuntime"/> it builds.</summary>
public sealed record NwFilterRuntimeOptions
{
    /// <summary>Where the filters and the state (bindings, leases) live. Default: <see cref="StoreLocation.Resolve()"/> once, at construction.</summary>
    public StoreLocation? Location { get; init; }

    /// <summary>The network namespace a request without one drives; null: the host's own.</summary>
    public string? DefaultNamespace { get; init; }

    /// <summary>The clock of the learners (lease ends). Default: the system's.</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>Where learners capture frames. Default: libpcap on the port device.</summary>
    public IFrameSource? FrameSource { get; init; }

    /// <summary>Runs the firewall tools (inside the namespace when one is named). Default: real processes.</summary>
    public IProcessRunner? Runner { get; init; }

    /// <summary>Whether a named network namespace exists. Default: <see cref="NwFilterRuntime.NamespaceExists"/> (<c>/run/netns/NAME</c>).</summary>
    public Func<string, bool>? NamespaceProbe { get; init; }

    /// <summary>Whether this process may change the firewall. Default: <see cref="RuntimeChecks.HasNetAdmin"/> (CAP_NET_ADMIN).</summary>
    public Func<bool>? PrivilegeProbe { get; init; }

    /// <summary>
    /// The interfaces of a namespace (null: the host's own), or null when they cannot be listed. Default:
    /// <see cref="RuntimeChecks.ListInterfacesAsync"/> with <see cref="Runner"/>.
    /// </summary>
    public Func<string?, CancellationToken, Task<IReadOnlySet<string>?>>? InterfaceProbe { get; init; }

    /// <summary>
    /// Whether nftables is usable in a namespace (null: the host's own). Default: <see cref="NftablesProbe.ProbeAsync"/>
    /// (once per process and namespace). The seam through which tests simulate a kernel without nf_tables or a missing libnftables.
    /// </summary>
    public Func<string?, CancellationToken, Task<NftablesAvailability>>? NftablesProbe { get; init; }

    /// <summary>The environment the backend setting is read from (<see cref="BackendSelection.Variable"/>). Default: the process's.</summary>
    public Func<string, string?>? Environment { get; init; }

    /// <summary>How often the learning service looks for bindings other processes created or removed.</summary>
    public TimeSpan ServiceScanInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Whether the service (<c>Restore-NwFilterBinding -Wait</c>, nwfilterd) repairs drift by itself: re-applies the bindings
    /// whose rules were removed or changed behind its back (docs/design/drift-repair.md). Default: true.
    /// </summary>
    public bool DriftRepair { get; init; } = true;

    /// <summary>The drift repair's periodic check, the last resort when no change event comes. Default: 30 s.</summary>
    public TimeSpan DriftCheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the drift repair waits after a change signal before it checks (a burst of changes is one check). Default: 50 ms.</summary>
    public TimeSpan DriftSettle { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// What tells the drift repair that a namespace's firewall changed (null: the host's own). Default: the kernel's
    /// nf_tables events (netlink, <c>NfTablesGenerationWatch</c>). The seam for firewalld's reload signal and for tests.
    /// </summary>
    public Func<string?, IReadOnlyList<IRulesetChangeSource>>? RulesetChangeSources { get; init; }
}
