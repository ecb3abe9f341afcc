using System.Collections.Immutable;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

namespace NwFilter.Core.Runtime;

// What a host asks of the runtime and what it gets back (docs/design/runtime.md): the cmdlets, a socket server and
// the tests speak this one contract; NwFilterRuntime has one HandleAsync per request type. A null NetworkNamespace
// means the runtime's default (NwFilterRuntimeOptions.DefaultNamespace; null there is the host's own namespace).

/// <summary>Apply (create or replace) bindings: each is checked and confirmed, then all are applied in one batch.</summary>
/// <param name="Bindings">The bindings, in order.</param>
/// <param name="NetworkNamespace">Whose firewall gets the rules.</param>
public sealed record ApplyBindingsRequest(IReadOnlyList<FilterBinding> Bindings, string? NetworkNamespace = null);

/// <summary>Remove the bindings of port devices, with their rules, in one batch.</summary>
/// <param name="PortDevices">The port devices.</param>
/// <param name="NetworkNamespace">Whose bindings.</param>
public sealed record RemoveBindingsRequest(IReadOnlyList<string> PortDevices, string? NetworkNamespace = null);

/// <summary>
/// Re-apply stored bindings (reconcile the firewall with the store): those of <paramref name="PortDevices"/>, or all
/// (which also removes chains of ports without a binding). Each port is confirmed first.
/// </summary>
/// <param name="PortDevices">The ports; null: every binding.</param>
/// <param name="NetworkNamespace">Whose bindings.</param>
public sealed record RestoreBindingsRequest(IReadOnlyList<string>? PortDevices = null, string? NetworkNamespace = null)
{
    /// <summary>
    /// Move the bindings restored to this backend (Restore-NwFilterBinding -Backend): each port moves in one kernel
    /// transaction (docs/design/nftables.md, "Moving bindings between backends"); null keeps each binding's own.
    /// </summary>
    public FirewallBackendKind? Backend { get; init; }
}

/// <summary>The result of an apply, remove or restore request.</summary>
/// <param name="NetworkNamespace">The namespace it ran in.</param>
/// <param name="Items">One result per binding that was not declined, in input order; failed ones carry their error.</param>
/// <param name="Warnings">Warnings for the batch.</param>
/// <param name="Execution">What ran (transactions, processes, time); null when nothing was run.</param>
public sealed record BindingsResponse(string? NetworkNamespace, ImmutableArray<BindingResult> Items, ImmutableArray<Diagnostic> Warnings, ExecutionReport? Execution)
{
    /// <summary>True when every item succeeded.</summary>
    public bool Succeeded => Items.All(i => i.Succeeded);

    /// <summary>A restore's report: per port, what it found in the kernel and what it did (empty for other requests).</summary>
    public ImmutableArray<BindingRepair> Repairs { get; init; } = [];
}

/// <summary>The stored bindings (list, get) and, when asked, their drift against the firewall (test).</summary>
/// <param name="PortDevices">The ports; null: every binding.</param>
/// <param name="NetworkNamespace">Whose bindings.</param>
/// <param name="TestDrift">Also compare the firewall with what the bindings need (reads the firewall: root).</param>
public sealed record BindingStatusRequest(IReadOnlyList<string>? PortDevices = null, string? NetworkNamespace = null, bool TestDrift = false);

/// <summary>The per-rule counters of stored bindings (Get-NwFilterStatistic), reset as they are read when asked (Reset-NwFilterStatistic).</summary>
/// <param name="PortDevices">The ports; null: every binding.</param>
/// <param name="NetworkNamespace">Whose bindings.</param>
/// <param name="Reset">Zero the counters as they are read.</param>
public sealed record BindingStatisticsRequest(IReadOnlyList<string>? PortDevices = null, string? NetworkNamespace = null, bool Reset = false);

/// <summary>The answer to a <see cref="BindingStatisticsRequest"/>.</summary>
/// <param name="NetworkNamespace">The namespace.</param>
/// <param name="Rules">Each rule's counters per kernel chain, by port (with Reset: the values they held).</param>
/// <param name="Problems">Ports without a binding (BindingNotFound), nftables bindings without counters (StatisticsOff), bindings still learning (StatisticsLearning), a namespace that does not exist.</param>
public sealed record BindingStatisticsResponse(string? NetworkNamespace, ImmutableArray<Apply.RuleStatistic> Rules, ImmutableArray<Diagnostic> Problems);

/// <summary>A stored binding and where its IP learning stands.</summary>
/// <param name="Binding">The binding.</param>
/// <param name="Learning">Its learning status; null when it does not learn its address.</param>
public sealed record BindingStatus(FilterBinding Binding, BindingLearningStatus? Learning);

/// <summary>The answer to a <see cref="BindingStatusRequest"/>.</summary>
/// <param name="NetworkNamespace">The namespace.</param>
/// <param name="Bindings">The stored bindings asked for (ports without a binding are in <paramref name="Problems"/>).</param>
/// <param name="Problems">Unreadable binding files, ports asked for that have no binding (BindingNotFound), and with drift a namespace that does not exist (NetworkNamespaceNotFound).</param>
/// <param name="Drift">The drift of each binding (and orphaned chains when all were asked); empty unless asked.</param>
public sealed record BindingStatusResponse(string? NetworkNamespace, ImmutableArray<BindingStatus> Bindings, ImmutableArray<Diagnostic> Problems, ImmutableArray<BindingDrift> Drift)
{
    /// <summary>With drift: the port devices of the bindings tested that are no interface of the namespace (a typo, or a VM not started).</summary>
    public ImmutableArray<string> MissingPortDevices { get; init; } = [];
}

/// <summary>
/// Define filters. With <paramref name="AllOrNothing"/> (several documents of one text, as Set-NwFilter takes them)
/// either every filter is stored or none is; otherwise each filter succeeds or fails alone (Import-NwFilter). Either
/// way the bindings that use a changed filter are re-applied, in every network namespace, and when that fails the
/// filters are put back.
/// </summary>
/// <param name="Filters">The filters, in order (already confirmed by the host).</param>
/// <param name="AllOrNothing">Store all or none.</param>
/// <param name="SkipUnchanged">A filter equal to the stored one apart from its uuid is left alone (import).</param>
/// <param name="Expected">For an edit (all or nothing only): each named filter as the edit read it (null: absent); if one
/// changed meanwhile nothing is stored (FilterChangedConcurrently).</param>
public sealed record DefineFiltersRequest(IReadOnlyList<FilterDefinition> Filters, bool AllOrNothing = true, bool SkipUnchanged = false,
    IReadOnlyDictionary<string, FilterDefinition?>? Expected = null);

/// <summary>The answer to a <see cref="DefineFiltersRequest"/>.</summary>
/// <param name="Items">One result per filter, in input order (each with its result or error).</param>
/// <param name="Error">Why the whole request was refused or undone (all-or-nothing refusal, failed re-application); null otherwise.</param>
public sealed record DefineFiltersResponse(ImmutableArray<BatchItemResult> Items, NwFilterException? Error)
{
    /// <summary>True when the batch was not refused and every filter was defined.</summary>
    public bool Succeeded => Error is null && Items.All(i => i.Succeeded);
}

/// <summary>Remove a defined filter; the bindings of a built-in filter it shadowed are re-applied.</summary>
/// <param name="Name">The filter's name.</param>
public sealed record UndefineFilterRequest(string Name);

/// <summary>The answer to an <see cref="UndefineFilterRequest"/>.</summary>
/// <param name="Result">What was removed (null when refused).</param>
/// <param name="Error">Why it was refused or undone; null on success.</param>
public sealed record UndefineFilterResponse(UndefineResult? Result, NwFilterException? Error)
{
    /// <summary>True when the filter was removed.</summary>
    public bool Succeeded => Error is null;
}

/// <summary>
/// Run the learning service of a namespace until cancelled: restore its bindings (unless <paramref name="Restored"/>
/// says it was done), learn the addresses of those that need one, take over bindings other processes create, stop
/// learning for bindings removed elsewhere; on the way out stop every learner (the rules in force stay).
/// </summary>
/// <param name="NetworkNamespace">The namespace.</param>
/// <param name="Restored">The restore the host already ran (its learners are followed); null: restore every binding first.</param>
public sealed record LearningServiceRequest(string? NetworkNamespace = null, BindingsResponse? Restored = null);

/// <summary>How the learning service ended.</summary>
/// <param name="NetworkNamespace">The namespace.</param>
/// <param name="Learners">How many learners ran when it stopped.</param>
public sealed record LearningServiceResponse(string? NetworkNamespace, int Learners);
