using System.Collections.Immutable;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Apply;

/// <summary>
/// Each binding is applied by its own backend (<see cref="FilterBinding.Backend"/>, an <see cref="IFirewallBackend"/>
/// from <see cref="FirewallBackends"/>): the manager groups a batch by backend and asks each for its plan and its
/// transaction(s); it knows no backend by name.
/// </summary>
/// <remarks>
/// A batch runs one step per backend, in the order of <see cref="FirewallBackends.All"/> (EbIpTables, then nftables),
/// then the deferred removals: (1) the EbIpTables bindings are applied; (2) one nft transaction sets the nftables
/// bindings and removes the nftables rules of ports that move to EbIpTables (their new backend ran in an earlier step);
/// (3) the ebtables/iptables rules of ports that move to nftables (a later step) are removed. A port that changes
/// backend does not wait for (2) or (3): the backend it leaves prepares its removal as nft statements
/// (<see cref="IFirewallBackend.PrepareJoinedRemovalAsync"/>) and the step of its new backend commits them in the
/// transaction that puts its new rules in force (<see cref="JoinAsync"/>), so it is never filtered by both nor by
/// neither. Only when that removal cannot be prepared does the port move in two steps, new rules first
/// (<see cref="ApplyCodes.BackendMoveNotJoined"/>). Each step is atomic on its own, but the steps are not one
/// transaction: when (1) fails nothing changed; when (2) fails the EbIpTables bindings are in force and the nftables
/// bindings keep their previous rules; when (3) fails the new rules are in force and the old ones stay too
/// (<see cref="ApplyCodes.OldBackendRulesRemain"/>) until Restore-NwFilterBinding removes them. A step that fails with
/// no earlier step committed fails the batch.
/// </remarks>
public sealed partial class BindingManager
{
    /// <summary>What a batch did on the firewall, and the backends whose step failed after an earlier one committed.</summary>
    private sealed record BatchExecution(ExecutionReport Report, IReadOnlyDictionary<FirewallBackendKind, NwFilterException> Failures);

    /// <summary>
    /// One backend's share of a batch: the bindings it sets; the ports moving away from it whose new backend runs
    /// earlier (<paramref name="RemoveNow"/>, removed in its own step) or later (<paramref name="RemoveAfter"/>,
    /// removed after every step); <paramref name="NoneRemain"/> when it has no binding afterwards.
    /// </summary>
    private sealed record BackendStep(IFirewallBackend Backend, List<PreparedBinding> Set, List<string> RemoveNow, List<string> RemoveAfter, bool NoneRemain)
    {
        public bool Involved => Set.Count > 0 || RemoveNow.Count > 0 || RemoveAfter.Count > 0;

        public bool HasStep => Set.Count > 0 || RemoveNow.Count > 0;

        public List<PortPlan> Plans => [.. Set.Select(p => p.Plan)];
    }

    /// <summary>Splits a batch into the steps of each backend, against the stored bindings (read under the store lock when executing).</summary>
    /// <param name="prepared">The batch.</param>
    /// <param name="stored">The backend of each port's binding before the batch; null reads the store.</param>
    private List<BackendStep> Steps(IReadOnlyList<PreparedBinding> prepared, IReadOnlyDictionary<string, FirewallBackendKind>? stored = null)
    {
        stored ??= Store.List().Bindings.ToDictionary(b => b.PortDevice, b => b.Backend, StringComparer.Ordinal);
        var steps = new List<BackendStep>(FirewallBackends.All.Count);
        foreach (var backend in FirewallBackends.All)
        {
            var order = FirewallBackends.Order(backend);
            var set = prepared.Where(p => p.Binding.Backend == backend.Kind).ToList();
            var leaving = prepared.Where(p => p.Binding.Backend != backend.Kind && stored.TryGetValue(p.Binding.PortDevice, out var old) && old == backend.Kind).ToList();
            var now = leaving.Where(p => FirewallBackends.Order(p.Backend) < order).Select(p => p.Binding.PortDevice).ToList();
            var after = leaving.Where(p => FirewallBackends.Order(p.Backend) > order).Select(p => p.Binding.PortDevice).ToList();
            var leavingPorts = leaving.Select(p => p.Binding.PortDevice).ToHashSet(StringComparer.Ordinal);
            var remain = set.Count > 0 || stored.Any(kv => kv.Value == backend.Kind && !leavingPorts.Contains(kv.Key));
            steps.Add(new BackendStep(backend, set, now, after, !remain));
        }
        return steps;
    }

    /// <summary>The transactions of a batch on <paramref name="snapshot"/>, in the order <see cref="ExecuteAsync"/> runs them.</summary>
    private static ExecutionPlan Plan(FirewallSnapshot snapshot, List<BackendStep> steps)
    {
        var transactions = ImmutableArray.CreateBuilder<PlannedTransaction>();
        var reasons = new List<string>();
        foreach (var step in steps.Where(s => s.Involved))
        {
            if (snapshot.ReasonOf(step.Backend) is { } r)
            {
                reasons.Add(r);
            }
        }
        // As ExecuteAsync runs it: the removal of ports moving away goes into the transaction that commits their new
        // rules (the nft one, or the xtables swap), not into a step of its own.
        var removeNow = steps.ToDictionary(s => s, s => s.RemoveNow.ToList());
        var removeAfter = steps.ToDictionary(s => s, s => s.RemoveAfter.ToList());
        foreach (var step in steps.Where(s => s.Involved))
        {
            var moving = step.Set.Select(p => p.Binding.PortDevice).ToHashSet(StringComparer.Ordinal);
            string? joined = null;
            foreach (var old in steps.Where(s => s != step && moving.Count > 0))
            {
                var ports = removeNow[old].Concat(removeAfter[old]).Where(moving.Contains).Order(StringComparer.Ordinal).ToList();
                if (ports.Count == 0)
                {
                    continue;
                }
                var noneRemain = old.NoneRemain && old.Set.Count == 0 && removeNow[old].Concat(removeAfter[old]).All(moving.Contains);
                joined = string.Concat(old.Backend.PlanRemove(snapshot.StateOf(old.Backend), ports, noneRemain).Select(t => t.Input));
                removeNow[old].RemoveAll(moving.Contains);
                removeAfter[old].RemoveAll(moving.Contains);
            }
            if (step.Set.Count > 0 || removeNow[step].Count > 0)
            {
                var planned = step.Backend.PlanApply(snapshot.StateOf(step.Backend), step.Plans, removeNow[step], step.NoneRemain).ToList();
                if (joined is { Length: > 0 })
                {
                    var at = planned.FindIndex(t => t.Program == "nft" && (planned.Count == 1 || t.Step.StartsWith("swap", StringComparison.Ordinal)));
                    if (at >= 0)
                    {
                        planned[at] = planned[at] with { Step = planned[at].Step + "; with the old backend's rules of the ports moving here", Input = planned[at].Input + joined };
                    }
                }
                transactions.AddRange(planned);
            }
        }
        foreach (var step in steps.Where(s => removeAfter[s].Count > 0))
        {
            transactions.AddRange(step.Backend.PlanRemove(snapshot.StateOf(step.Backend), removeAfter[step], step.NoneRemain));
        }
        return Planned(transactions.ToImmutable(), reasons);
    }

    private static ExecutionPlan Planned(ImmutableArray<PlannedTransaction> transactions, List<string> reasons) =>
        new(transactions, reasons.Count > 0, reasons.Count == 0 ? null : string.Join("; ", reasons));

    /// <summary>Runs a batch of prepared bindings by backend (call under the store lock). Throws when the first step that runs fails.</summary>
    private async Task<BatchExecution> ExecuteAsync(IReadOnlyList<PreparedBinding> prepared, Action<BindingProgress>? progress, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, FirewallBackendKind>? stored = null)
    {
        var steps = Steps(prepared, stored);
        var newBackend = new Dictionary<string, IFirewallBackend>(StringComparer.Ordinal);
        foreach (var p in prepared)
        {
            newBackend[p.Binding.PortDevice] = p.Backend;
        }
        var report = ExecutionReport.None;
        var failures = new Dictionary<FirewallBackendKind, NwFilterException>();
        var committed = false;
        foreach (var step in steps.Where(s => s.HasStep))
        {
            if (step.Set.Count == 0 && step.RemoveNow.Count == 0)
            {
                continue; // its only work (removing ports that moved away) went into another backend's transaction
            }
            JoinedRemoval? joined = null;
            try
            {
                (joined, var warning) = await JoinAsync(steps, step, cancellationToken).ConfigureAwait(false);
                if (warning is not null)
                {
                    report = report with { Warnings = report.Warnings.Add(warning) };
                }
                report = ExecutionReport.Merge(report, await step.Backend.ApplyAsync(HostRunner, step.Plans, step.RemoveNow, step.NoneRemain, joined, progress, cancellationToken)
                    .ConfigureAwait(false));
                committed = true;
                if (joined is not null)
                {
                    // The old rules of the moving ports went out in that same commit: nothing is left to remove.
                    var old = steps.First(s => s.Backend.Kind == joined.From);
                    old.Backend.JoinedRemovalCommitted(HostRunner, joined);
                    old.RemoveNow.RemoveAll(joined.Ports.Contains);
                    old.RemoveAfter.RemoveAll(joined.Ports.Contains);
                }
                FaultInjection.Hit(FaultInjection.BackendApplied);
            }
            catch (NwFilterException e) when (committed)
            {
                failures[step.Backend.Kind] = e;
                if (step.RemoveNow.Count > 0)
                {
                    report = report with { Warnings = report.Warnings.Add(OldRulesRemain(step.Backend, step.RemoveNow, newBackend, e)) };
                }
            }
        }
        foreach (var step in steps.Where(s => s.RemoveAfter.Count > 0))
        {
            var ports = step.RemoveAfter.Where(p => !failures.ContainsKey(newBackend[p].Kind)).ToList();
            if (ports.Count == 0)
            {
                continue;
            }
            try
            {
                report = ExecutionReport.Merge(report, await step.Backend.RemoveAsync(HostRunner, ports, step.NoneRemain, null, cancellationToken).ConfigureAwait(false));
            }
            catch (NwFilterException e)
            {
                report = report with { Warnings = report.Warnings.Add(OldRulesRemain(step.Backend, [.. ports.Order(StringComparer.Ordinal)], newBackend, e)) };
            }
        }
        return new BatchExecution(report, failures);
    }

    /// <summary>
    /// The removal, by the backend they leave, of the ports that move to <paramref name="step"/>'s backend, prepared
    /// for its transaction (read now: every earlier step has committed). So each moving port changes in one commit:
    /// its old rules out and its new ones in (docs/design/nftables.md, "Moving bindings between backends"). When the
    /// old backend cannot prepare it, null and a warning: the ports then move in two steps, new rules first.
    /// </summary>
    private async Task<(JoinedRemoval? Joined, Diagnostic? Warning)> JoinAsync(List<BackendStep> steps, BackendStep step, CancellationToken cancellationToken)
    {
        if (step.Set.Count == 0)
        {
            return (null, null);
        }
        var moving = step.Set.Select(p => p.Binding.PortDevice).ToHashSet(StringComparer.Ordinal);
        foreach (var old in steps.Where(s => s != step))
        {
            var ports = old.RemoveNow.Concat(old.RemoveAfter).Where(moving.Contains).Order(StringComparer.Ordinal).ToList();
            if (ports.Count == 0)
            {
                continue;
            }
            // Only when the old backend has nothing else to do in this batch may its removal take its base chains or tables.
            var noneRemain = old.NoneRemain && old.Set.Count == 0 && old.RemoveNow.Concat(old.RemoveAfter).All(moving.Contains);
            try
            {
                var joined = await old.Backend.PrepareJoinedRemovalAsync(HostRunner, ports, noneRemain, cancellationToken).ConfigureAwait(false);
                return (joined, null);
            }
            catch (NwFilterException e)
            {
                return (null, Diagnostic.Warning(ApplyCodes.BackendMoveNotJoined,
                    $"The {old.Backend.RulesTitle} rules of {string.Join(", ", ports)} could not be read for one transaction with their {step.Backend.Title} rules " +
                    $"({e.Primary.Message.TrimEnd('.')}); the new rules went in first and the old ones were removed after, so for a moment both filtered the port."));
            }
        }
        return (null, null);
    }

    /// <summary>The warning when ports moved away from <paramref name="old"/> and their rules there could not be removed.</summary>
    private static Diagnostic OldRulesRemain(IFirewallBackend old, List<string> ports, Dictionary<string, IFirewallBackend> newBackend, NwFilterException e)
    {
        var titles = string.Join(" and ", ports.Select(p => newBackend[p]).Distinct().OrderBy(FirewallBackends.Order).Select(b => b.Title));
        return Diagnostic.Warning(ApplyCodes.OldBackendRulesRemain,
            $"The {titles} rules of {string.Join(", ", ports)} are in force, but their old {old.RulesTitle} rules could not be removed " +
            $"({e.Primary.Message.TrimEnd('.')}); both filter the port until Restore-NwFilterBinding removes them.");
    }

    /// <summary>Reads each backend's state; what cannot be read is assumed empty, with why.</summary>
    private async Task<FirewallSnapshot> ReadSnapshotAsync(CancellationToken cancellationToken)
    {
        var parts = new Dictionary<FirewallBackendKind, (object State, string? Reason)>();
        foreach (var backend in FirewallBackends.All)
        {
            try
            {
                parts[backend.Kind] = (await backend.ReadStateAsync(HostRunner, cancellationToken).ConfigureAwait(false), null);
            }
            catch (NwFilterException e)
            {
                parts[backend.Kind] = (backend.EmptyState, e.Primary.Message);
            }
        }
        return new FirewallSnapshot(parts);
    }

    /// <summary>Removes, per backend, the rules of ports without a binding of that backend (restoring all); returns what ran and warnings.</summary>
    private async Task<(ExecutionReport Report, ImmutableArray<Diagnostic> Warnings)> RemoveOrphansAsync(IReadOnlyCollection<FilterBinding> stored, CancellationToken cancellationToken)
    {
        var report = ExecutionReport.None;
        var warnings = ImmutableArray<Diagnostic>.Empty;
        foreach (var backend in FirewallBackends.All)
        {
            var bound = stored.Where(b => b.Backend == backend.Kind).Select(b => b.PortDevice).ToHashSet(StringComparer.Ordinal);
            var (removed, orphans) = await backend.RemoveOrphansAsync(HostRunner, bound, cancellationToken).ConfigureAwait(false);
            if (!orphans.IsEmpty)
            {
                report = ExecutionReport.Merge(report, removed);
                warnings = warnings.Add(Diagnostic.Warning("OrphanedRulesRemoved",
                    $"Removed the NwFilter {backend.RulesTitle} chains of {string.Join(", ", orphans)}, which have no {backend.Title} binding."));
            }
        }
        return (report, warnings);
    }
}
