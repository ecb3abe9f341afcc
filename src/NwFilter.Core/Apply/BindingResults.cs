using System.Collections.Immutable;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

namespace NwFilter.Core.Apply;

/// <summary>How a <see cref="BindingManager"/> reaches the host, the filters and the bindings.</summary>
public sealed record BindingManagerOptions
{
    /// <summary>The network namespace whose firewall holds the rules; null for the host's own.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>Runs programs in the caller's namespace (namespace administration; the base of the other runners).</summary>
    public IProcessRunner Runner { get; init; } = ProcessRunner.Default;

    /// <summary>Runs the firewall tools where the rules go. Default: <see cref="Runner"/>, inside
    /// <see cref="NetworkNamespace"/> when one is named. Tests put failure-injecting decorators here.</summary>
    public IProcessRunner? HostRunner { get; init; }

    /// <summary>
    /// Hold one libnftables context for the namespace (nftables bindings change without a process launch, planned on
    /// the state the last commit left while the kernel's generation says nobody else changed it; docs/design/nftables.md,
    /// "The held context"). Taken only with the real <see cref="Runner"/> and no <see cref="HostRunner"/>, as root, with
    /// libnftables present and <c>NWFILTER_NFT_RUNNER</c> not <c>process</c>; otherwise nft runs as processes.
    /// The runtime (cmdlet sessions, nwfilterd) sets it.
    /// </summary>
    public bool HoldNftablesContext { get; init; }

    /// <summary>Where filters are looked up. Default: the current user's filter store.</summary>
    public Graph.IFilterSource? Filters { get; init; }

    /// <summary>Where bindings are kept. Default: the store of <see cref="NetworkNamespace"/> under the state directory.</summary>
    public BindingStore? Store { get; init; }

    /// <summary>
    /// Whether a binding whose <see cref="FilterBinding.Counters"/> is null gets per-rule counters (asked at each
    /// compile; the runtime answers from the <c>counters</c> setting). Default: off.
    /// </summary>
    public Func<bool>? CountersByDefault { get; init; }

    /// <summary>How long to wait for another writer of the same namespace's bindings.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The learners of this namespace's bindings, kept for the life of the process (one registry per namespace and state
    /// directory, shared by every manager of it). Null: IP address learning is off, and a binding whose filter needs IP
    /// without one is refused (<see cref="ApplyCodes.IpLearningUnavailable"/>).
    /// </summary>
    public Learning.IpLearnerRegistry? Learners { get; init; }
}

/// <summary>The outcome for one binding of a batch.</summary>
/// <param name="PortDevice">The port device.</param>
/// <param name="Binding">The binding, when one was given or stored.</param>
/// <param name="Error">Why it failed; null when it succeeded.</param>
public sealed record BindingResult(string PortDevice, FilterBinding? Binding, NwFilterException? Error)
{
    /// <summary>True when the binding was applied or removed without error.</summary>
    public bool Succeeded => Error is null;

    /// <summary>The learner watching the port, when the binding learns its address (started now or kept running).</summary>
    public Learning.IpLearner? Learner { get; init; }
}

/// <summary>The outcome of a batch: one result per binding, warnings for all, and what ran.</summary>
/// <param name="Items">One result per binding, in input order.</param>
/// <param name="Warnings">Warnings such as <see cref="ApplyCodes.BridgeNetfilterOff"/>.</param>
/// <param name="Execution">The transactions run and the processes launched.</param>
public sealed record BindingBatchResult(ImmutableArray<BindingResult> Items, ImmutableArray<Diagnostic> Warnings, ExecutionReport Execution)
{
    /// <summary>The items that failed, in input order.</summary>
    public IEnumerable<BindingResult> Failed => Items.Where(i => !i.Succeeded);
}

/// <summary>A step of a long operation, for progress bars.</summary>
/// <param name="Status">What is being done.</param>
/// <param name="Percent">How far, 0 to 100; -1 when unknown.</param>
public sealed record BindingProgress(string Status, int Percent);

/// <summary>How the firewall compares with a stored binding.</summary>
public enum BindingDriftStatus
{
    /// <summary>The kernel holds exactly the rules the binding needs.</summary>
    InSync,
    /// <summary>Some rules are missing, extra, or in another order.</summary>
    Drifted,
    /// <summary>The kernel holds no rule for the port (a flushed firewall, a reboot); empty chains may be left.</summary>
    Missing,
    /// <summary>The kernel holds NwFilter chains for a port that has no binding.</summary>
    Orphaned,
}

/// <summary>The drift of one port: what the store says against what the kernel holds.</summary>
/// <param name="PortDevice">The port device.</param>
/// <param name="Filter">The binding's filter; null for an orphan.</param>
/// <param name="Status">In sync, drifted, missing or orphaned.</param>
/// <param name="MissingRules">Rules the binding needs that the kernel lacks (<c>family: -A CHAIN ...</c>, save format).</param>
/// <param name="UnexpectedRules">Rules the kernel holds for the port that the binding does not make.</param>
/// <param name="Warnings">Warnings, such as bridge netfilter hooks that are off.</param>
public sealed record BindingDrift(
    string PortDevice,
    string? Filter,
    BindingDriftStatus Status,
    ImmutableArray<string> MissingRules,
    ImmutableArray<string> UnexpectedRules,
    ImmutableArray<Diagnostic> Warnings)
{
    /// <summary>The port device.</summary>
    public string PortDevice { get; internal init; } = PortDevice;
    /// <summary>The binding's filter; null for an orphan.</summary>
    public string? Filter { get; internal init; } = Filter;
    /// <summary>In sync, drifted, missing or orphaned.</summary>
    public BindingDriftStatus Status { get; internal init; } = Status;
    /// <summary>Rules the binding needs that the kernel lacks (<c>family: -A CHAIN ...</c>, save format).</summary>
    public ImmutableArray<string> MissingRules { get; internal init; } = MissingRules;
    /// <summary>Rules the kernel holds for the port that the binding does not make.</summary>
    public ImmutableArray<string> UnexpectedRules { get; internal init; } = UnexpectedRules;
    /// <summary>Warnings, such as bridge netfilter hooks that are off.</summary>
    public ImmutableArray<Diagnostic> Warnings { get; internal init; } = Warnings;

    /// <summary>The network namespace checked; null for the host's own.</summary>
    public string? NetworkNamespace { get; internal init; }

    /// <summary>True when the kernel holds exactly the rules the binding expects.</summary>
    public bool InSync => Status == BindingDriftStatus.InSync;
}

/// <summary>The firewall as read for planning (or an empty one assumed when it could not be read), each backend's part.</summary>
public sealed class FirewallSnapshot
{
    private readonly IReadOnlyDictionary<FirewallBackendKind, (object State, string? Reason)> _parts;

    internal FirewallSnapshot(IReadOnlyDictionary<FirewallBackendKind, (object State, string? Reason)> parts) => _parts = parts;

    /// <summary>A firewall with none of NwFilter's chains, in every backend.</summary>
    internal static FirewallSnapshot Empty() => new(FirewallBackends.All.ToDictionary(b => b.Kind, b => (b.EmptyState, (string?)null)));

    /// <summary>The state of <paramref name="backend"/> (its empty state when it has no part).</summary>
    internal object StateOf(IFirewallBackend backend) => _parts.TryGetValue(backend.Kind, out var part) ? part.State : backend.EmptyState;

    /// <summary>Why the part of <paramref name="backend"/> could not be read; null when it was read.</summary>
    internal string? ReasonOf(IFirewallBackend backend) => _parts.TryGetValue(backend.Kind, out var part) ? part.Reason : null;

    /// <summary>Why the ebtables/iptables firewall could not be read (then an empty one is assumed); null when it was read.</summary>
    public string? UnreadableReason => ReasonOf(Backends.EbIpTables.EbIpTablesBackend.Instance);

    /// <summary>Why NwFilter's nftables chains could not be read (then none are assumed); null when they were read.</summary>
    public string? NftUnreadableReason => ReasonOf(Backends.Nftables.NftablesBackend.Instance);
}
