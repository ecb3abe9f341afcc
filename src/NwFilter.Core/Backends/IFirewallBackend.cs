using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends;

/// <summary>
/// A firewall technology as a whole (libvirt's tech driver, <c>virNWFilterTechDriver</c>): one implementation per
/// <see cref="FirewallBackendKind"/>, chosen once by <see cref="FirewallBackends"/>. The binding manager groups bindings
/// by backend and asks each of these; it holds no branch on the kind (docs/design/applying.md).
/// </summary>
/// <remarks>
/// The plan phases (<see cref="ApplyNewRules"/> ... <see cref="AllTeardown"/>), <see cref="Compile"/>, the learning
/// rules and the <c>Plan*</c> methods are pure. Only the members taking an <see cref="IProcessRunner"/> touch the host,
/// and they do it through the backend's <c>Kernel/</c> folder (executor, state reader, nft runner).
/// <para>A backend's state and port plans are its own types (<c>KernelState</c> and an ebtables/iptables plan; <c>NftState</c>
/// and an <c>NftPortRuleset</c>): the manager carries them without looking inside.</para>
/// </remarks>
internal interface IFirewallBackend
{
    /// <summary>The kind a binding names (<see cref="FilterBinding.Backend"/>).</summary>
    FirewallBackendKind Kind { get; }

    /// <summary>
    /// True when <see cref="Compile"/> needs only the ruleset's rule instances, not its command plan and dry-run
    /// expansion (which the apply path then skips: they would be compiles thrown away).
    /// </summary>
    bool CompilesFromInstances => false;

    /// <summary>The backend's name in plans (<c>ebiptables</c>, <c>nftables</c>).</summary>
    string Name { get; }

    /// <summary>What messages call the backend (as -Backend does: <c>EbIpTables</c>, <c>nftables</c>).</summary>
    string Title { get; }

    /// <summary>What messages call its rules (<c>ebtables/iptables</c>, <c>nftables</c>).</summary>
    string RulesTitle { get; }

    // ---- The plan phases of one port (libvirt's applyNewRules, tearOldRules, tearNewRules, allTeardown) ----

    /// <summary>
    /// Builds the interface's new rules under temporary names, after clearing leftovers of an earlier attempt
    /// (libvirt's applyNewRules). <paramref name="instances"/> must be in resolution order.
    /// </summary>
    FirewallPlan ApplyNewRules(string portDevice, IReadOnlyList<RuleInstance> instances);

    /// <summary>Replaces the interface's old rules with the new (temporary) ones (libvirt's tearOldRules).</summary>
    FirewallPlan TearOldRules(string portDevice);

    /// <summary>Removes the new (temporary) rules again, after a failure elsewhere (libvirt's tearNewRules).</summary>
    FirewallPlan TearNewRules(string portDevice);

    /// <summary>Removes everything for the interface, old and new (libvirt's allTeardown).</summary>
    FirewallPlan AllTeardown(string portDevice);

    // ---- Bindings: compile, learning rules ----

    /// <summary>A compiled binding (<paramref name="ruleset"/> resolved, not learning) as what this backend's executor applies.</summary>
    PortPlan Compile(string portDevice, Ruleset ruleset);

    /// <summary>
    /// <paramref name="plan"/> with per-rule counters (a binding with <see cref="FilterBinding.Counters"/> in effect).
    /// ebtables and iptables count every rule anyway: the default returns the plan unchanged, so their rules stay
    /// byte-exact with libvirt's.
    /// </summary>
    PortPlan WithCounters(PortPlan plan) => plan;

    /// <summary>
    /// Refuses a binding that must learn its IP address when this backend has no learning rules (libvirt's
    /// canApplyBasicRules); returns when it has them.
    /// </summary>
    void EnsureCanLearn(FilterBinding binding);

    /// <summary>
    /// The rules a port carries while its address is learned (libvirt's applyBasicRules for <c>any</c>,
    /// applyDHCPOnlyRules for <c>dhcp</c>), shaped to be applied like <see cref="Compile"/>'s plans.
    /// </summary>
    PortPlan LearningRules(FilterBinding binding, IpLearningMode mode, IEnumerable<IPAddress> dhcpServers);

    /// <summary>Everything to and from the VM dropped (libvirt's applyDropAllRules).</summary>
    FirewallPlan DropAllRules(string portDevice);

    // ---- The kernel state it owns ----

    /// <summary>This backend's state on a firewall without NwFilter's chains (assumed when it cannot be read).</summary>
    object EmptyState { get; }

    /// <summary>Reads the state it plans against; throws <see cref="NwFilterException"/> when it cannot.</summary>
    Task<object> ReadStateAsync(IProcessRunner runner, CancellationToken cancellationToken);

    // ---- Plans on a snapshot (-WhatIf) ----

    /// <summary>
    /// The transactions of one step of a batch on <paramref name="state"/>: <paramref name="set"/> applied and the ports
    /// of <paramref name="remove"/> (moving to another backend) removed; <paramref name="noneRemain"/> when no binding
    /// of this backend is left afterwards.
    /// </summary>
    IEnumerable<PlannedTransaction> PlanApply(object state, IReadOnlyList<PortPlan> set, IReadOnlyCollection<string> remove, bool noneRemain);

    /// <summary>The transactions removing the rules of <paramref name="ports"/> on <paramref name="state"/>.</summary>
    IEnumerable<PlannedTransaction> PlanRemove(object state, IReadOnlyCollection<string> ports, bool noneRemain);

    // ---- Execution (each call is the backend's own transaction(s)) ----

    /// <summary>
    /// Applies <paramref name="set"/> and removes <paramref name="remove"/>, as <see cref="PlanApply"/> plans them.
    /// <paramref name="joined"/> (when given) is another backend's removal of ports that move here: its statements go
    /// into the same kernel transaction that puts this backend's rules for them in force.
    /// </summary>
    Task<ExecutionReport> ApplyAsync(IProcessRunner runner, IReadOnlyList<PortPlan> set, IReadOnlyCollection<string> remove, bool noneRemain,
        JoinedRemoval? joined, Action<BindingProgress>? progress, CancellationToken cancellationToken);

    /// <summary>
    /// The removal of <paramref name="ports"/>' rules as nft statements that another backend's nft transaction can
    /// carry (both backends keep their rules in nf_tables: iptables-nft's tables and NwFilter's own), so that a port
    /// moving between backends changes in ONE kernel commit: never filtered by both, never by neither. Reads the
    /// kernel (the rules' handles), changes nothing. Null when this backend's rules cannot be removed that way.
    /// </summary>
    Task<JoinedRemoval?> PrepareJoinedRemovalAsync(IProcessRunner runner, IReadOnlyCollection<string> ports, bool noneRemain, CancellationToken cancellationToken);

    /// <summary>Says that <paramref name="removal"/> (this backend's) committed in another backend's transaction (a held state is stale).</summary>
    void JoinedRemovalCommitted(IProcessRunner runner, JoinedRemoval removal);

    /// <summary>Removes the rules of <paramref name="ports"/>.</summary>
    Task<ExecutionReport> RemoveAsync(IProcessRunner runner, IReadOnlyCollection<string> ports, bool noneRemain,
        Action<BindingProgress>? progress, CancellationToken cancellationToken);

    /// <summary>
    /// Removes this backend's rules of ports that have no binding of this backend (<paramref name="bound"/> are the ports
    /// that have one); returns what ran and the ports cleaned.
    /// </summary>
    Task<(ExecutionReport Report, ImmutableArray<string> Removed)> RemoveOrphansAsync(IProcessRunner runner, IReadOnlySet<string> bound,
        CancellationToken cancellationToken);

    // ---- Per-rule counters (Get-NwFilterStatistic) ----

    /// <summary>True when the kernel counts every rule of this backend whatever the binding says (ebtables, iptables).</summary>
    bool CountsAlways => false;

    /// <summary>
    /// The counters of the ports' rules as the kernel holds them, each mapped back to its rule instance; with
    /// <paramref name="reset"/> they are zeroed too (and the values returned are those they held).
    /// </summary>
    Task<IReadOnlyList<KernelRuleCount>> ReadCountersAsync(IProcessRunner runner, string? networkNamespace, IReadOnlyList<CountedPort> ports, bool reset,
        CancellationToken cancellationToken);

    // ---- Drift (Test-NwFilterBinding) ----

    /// <summary>
    /// What this backend's rules look like in the kernel, in its tools' own words, per port. <paramref name="required"/>
    /// is false when no binding checked uses this backend: a backend whose tools are missing then reads as empty.
    /// </summary>
    Task<IBackendFootprint> ReadFootprintAsync(IProcessRunner runner, bool required, CancellationToken cancellationToken);

    /// <summary>The footprint of a firewall without this backend's rules.</summary>
    IBackendFootprint EmptyFootprint { get; }
}

/// <summary>A backend's rules as read from the kernel for drift comparison: lines per port.</summary>
internal interface IBackendFootprint
{
    /// <summary>Everything of <paramref name="port"/>, one line each; <paramref name="present"/> when its chains exist.</summary>
    List<string> Of(string port, out bool present);

    /// <summary>The ports that have rules of this backend.</summary>
    IEnumerable<string> Ports();
}

/// <summary>
/// A backend's removal of some ports' rules written as nft statements (<see cref="IFirewallBackend.PrepareJoinedRemovalAsync"/>),
/// for the transaction of the backend the ports move to. Valid for the kernel state it was read from: when that changed,
/// the transaction carrying it fails as a whole and nothing changes.
/// </summary>
/// <param name="From">The backend whose rules the statements remove.</param>
/// <param name="Ports">The ports whose rules they remove.</param>
/// <param name="Statements">The nft statements, one per line, in order.</param>
/// <param name="ProcessLaunches">Processes its preparation launched (state and handle reads).</param>
internal sealed record JoinedRemoval(FirewallBackendKind From, ImmutableArray<string> Ports, ImmutableArray<string> Statements, int ProcessLaunches);

/// <summary>A binding compiled by its backend: what the backend's executor applies for one port.</summary>
internal abstract record PortPlan(string PortDevice);

/// <summary>
/// A firewall context a long-running process holds for one namespace (the nftables backend's libnftables context):
/// a process runner in front of the manager's that answers what it can without a process.
/// </summary>
internal interface IHeldFirewallContext : Host.IProcessRunner, IDisposable
{
    /// <summary>Which of the names are interfaces of the namespace (asked without a process); null when it cannot say.</summary>
    Task<IReadOnlySet<string>?> ExistingInterfacesAsync(IReadOnlyCollection<string> names);
}
