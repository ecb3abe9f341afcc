using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Runtime;

// Drift repair by itself (docs/design/drift-repair.md): the service notices when its rules are removed or changed
// behind its back and re-applies the bindings concerned. The engine's policy; hosts only log its events.
public sealed partial class NwFilterRuntime
{
    private int _filterChanges;
    private long _filterChangeEpoch;

    /// <summary>
    /// Marks a filter definition of this runtime from the store's change to the end of its bindings' re-application:
    /// between the two the kernel rightly holds the old rules, so a drift check that overlaps it is no verdict.
    /// </summary>
    private FilterChangeMark FilterChange()
    {
        Interlocked.Increment(ref _filterChanges);
        Interlocked.Increment(ref _filterChangeEpoch);
        return new FilterChangeMark(this);
    }

    private (bool Busy, long Epoch) FilterChangeState => (Volatile.Read(ref _filterChanges) > 0, Interlocked.Read(ref _filterChangeEpoch));

    private sealed class FilterChangeMark(NwFilterRuntime runtime) : IDisposable
    {
        public void Dispose()
        {
            Interlocked.Increment(ref runtime._filterChangeEpoch);
            Interlocked.Decrement(ref runtime._filterChanges);
        }
    }

    /// <summary>
    /// Watches a namespace's firewall until <paramref name="cancellationToken"/> is cancelled: after each change signal
    /// (<see cref="NwFilterRuntimeOptions.RulesetChangeSources"/>; settled for <see cref="NwFilterRuntimeOptions.DriftSettle"/>,
    /// signals meanwhile coalesced) and at least every <see cref="NwFilterRuntimeOptions.DriftCheckInterval"/>, checks every
    /// binding (<see cref="BindingManager.TestAsync(IReadOnlyCollection{string}?, CancellationToken)"/>) and re-applies those Missing or Drifted, then checks them again.
    /// It never loops: its own re-application makes at most one more check (which finds them in sync), and a port
    /// still drifted after its re-application (or whose re-application failed) is not re-applied again until its drift
    /// or its binding changes.
    /// </summary>
    internal async Task RepairDriftAsync(IRuntimeHost host, BindingManager manager, CancellationToken cancellationToken)
    {
        var ns = manager.NetworkNamespace;
        var signals = Channel.CreateBounded<string>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        var sources = (Options.RulesetChangeSources ?? NfTablesGenerationWatch.Defaults)(ns);
        var watches = sources.Select(s => WatchAsync(host, ns, s, signals.Writer, cancellationToken)).ToList();
        var interval = Options.DriftCheckInterval;
        Announce(host, ns, RuntimeEventIds.DriftRepairStarted,
            $"NwFilter drift repair{Where(ns)}: " + (sources.Count > 0 ? $"watching {string.Join(", ", sources.Select(s => s.Name))}, and " : "no change events, only ") +
            $"a check every {interval.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s.");
        var givenUp = new Dictionary<string, string>(StringComparer.Ordinal);
        while (!cancellationToken.IsCancellationRequested)
        {
            string reason;
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                wait.CancelAfter(interval);
                try
                {
                    reason = await signals.Reader.ReadAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    reason = "the periodic check";
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            try
            {
                // A check that overlapped a filter definition of this runtime (its bindings not re-applied yet) is
                // taken again once that is done (at most 200 settles: a definition never takes that long here).
                for (var attempt = 0; ; attempt++)
                {
                    await Task.Delay(Options.DriftSettle, cancellationToken).ConfigureAwait(false);
                    signals.Reader.TryRead(out _); // changes that came while settling: this check covers them
                    if (await CheckAndRepairAsync(host, manager, reason, givenUp, () => FilterChangeState, cancellationToken).ConfigureAwait(false) || attempt >= 200)
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NwFilterException or IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                host.Report(new RuntimeEvent(RuntimeEventLevel.Warning, RuntimeEventIds.DriftCheckFailed,
                    $"The drift check{Where(ns)} after {reason} failed: {e.Message}") { NetworkNamespace = ns });
            }
        }
        await Task.WhenAll(watches).ConfigureAwait(false);
    }

    private static async Task WatchAsync(IRuntimeHost host, string? ns, IRulesetChangeSource source, ChannelWriter<string> signals, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Yield();
            await source.WatchAsync(change => signals.TryWrite($"{source.Name}: {change}"), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OutOfMemoryException)
        {
            host.Report(new RuntimeEvent(RuntimeEventLevel.Warning, RuntimeEventIds.DriftWatchEnded,
                $"{source.Name} stopped ({e.Message}); changes behind NwFilter's back{Where(ns)} are now found by the periodic check only.") { NetworkNamespace = ns });
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// One check; the drifted ports re-applied and checked again. False when the check overlapped a filter definition
    /// of this runtime (<paramref name="filterChanges"/>): nothing is concluded, the caller checks again.
    /// </summary>
    private static async Task<bool> CheckAndRepairAsync(IRuntimeHost host, BindingManager manager, string reason, Dictionary<string, string> givenUp,
        Func<(bool Busy, long Epoch)> filterChanges, CancellationToken cancellationToken)
    {
        var ns = manager.NetworkNamespace;
        var clock = Stopwatch.StartNew();
        var marked = filterChanges();
        var drift = await manager.TestAsync(null, lockStore: true, cancellationToken).ConfigureAwait(false);
        var unmarked = filterChanges();
        if (marked.Busy || unmarked.Busy || marked.Epoch != unmarked.Epoch)
        {
            host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, RuntimeEventIds.DriftChecked,
                $"Drift check{Where(ns)} after {reason} overlapped a filter definition being applied; checking again when it is done.") { NetworkNamespace = ns });
            return false;
        }
        var checkedIn = clock.Elapsed;
        var bad = drift.Where(NeedsRepair).ToList();
        foreach (var port in givenUp.Keys.ToList())
        {
            if (!bad.Any(d => d.PortDevice == port && Signature(d) == givenUp[port]))
            {
                givenUp.Remove(port); // repaired by someone, its binding changed, or it drifts otherwise now: try again
            }
        }
        var repair = bad.Where(d => !givenUp.ContainsKey(d.PortDevice)).ToList();
        host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, RuntimeEventIds.DriftChecked,
            $"Drift check{Where(ns)} after {reason}: {drift.Length} binding(s), {bad.Count} drifted, in {Ms(checkedIn)}.") { NetworkNamespace = ns });
        if (repair.Count == 0)
        {
            return true;
        }
        host.Report(new RuntimeEvent(RuntimeEventLevel.Warning, RuntimeEventIds.DriftFound,
            $"Drift found{Where(ns)} after {reason}: {Describe(repair)}; re-applying {(repair.Count == 1 ? "its binding" : "their bindings")}.") { NetworkNamespace = ns });
        var ports = repair.Select(d => d.PortDevice).ToList();
        var result = await manager.RestoreAsync(ports, null, cancellationToken).ConfigureAwait(false);
        var repairedIn = clock.Elapsed;
        foreach (var item in result.Items.Where(i => i.Error is not null))
        {
            host.Report(RuntimeEvent.Failed(item.Error!, item.PortDevice) with { NetworkNamespace = ns, Id = RuntimeEventIds.DriftRepairFailed });
            givenUp[item.PortDevice] = Signature(repair.First(d => d.PortDevice == item.PortDevice));
        }
        var applied = result.Items.Where(i => i.Error is null).Select(i => i.PortDevice).ToList();
        if (applied.Count == 0)
        {
            return true;
        }
        // The ports are filtered again from here: said at once, then checked.
        host.Report(new RuntimeEvent(RuntimeEventLevel.Information, RuntimeEventIds.DriftRepaired,
            $"Repaired {applied.Count} port(s){Where(ns)} in {Ms(repairedIn)} (check {Ms(checkedIn)}, re-apply {Ms(repairedIn - checkedIn)}): " +
            $"{Describe([.. repair.Where(d => applied.Contains(d.PortDevice))])}.") { NetworkNamespace = ns });
        // Checked once more; if still drifted, once more with the expected rules computed afresh (a tool upgrade changes
        // how the kernel's rules print); then given up until the drift or the binding changes.
        var after = (await manager.TestAsync(applied, lockStore: true, cancellationToken).ConfigureAwait(false)).Where(NeedsRepair).ToList();
        if (after.Count > 0)
        {
            manager.ForgetExpectedRules();
            after = [.. (await manager.TestAsync(applied, lockStore: true, cancellationToken).ConfigureAwait(false)).Where(NeedsRepair)];
        }
        foreach (var d in after)
        {
            givenUp[d.PortDevice] = Signature(d);
            host.Report(new RuntimeEvent(RuntimeEventLevel.Warning, RuntimeEventIds.DriftRepairGaveUp,
                $"{d.PortDevice} is still {d.Status.ToString().ToLowerInvariant()} after its binding was re-applied ({Describe([d])}); it is not re-applied again " +
                "until its rules or its binding change. Test-NwFilterBinding shows the difference.") { NetworkNamespace = ns, Target = d.PortDevice });
        }
        return true;
    }

    private static bool NeedsRepair(BindingDrift d) =>
        d.Filter is not null && d.Status is BindingDriftStatus.Missing or BindingDriftStatus.Drifted;

    private static string Signature(BindingDrift d) =>
        $"{d.Status}\n{string.Join('\n', d.MissingRules)}\n--\n{string.Join('\n', d.UnexpectedRules)}";

    /// <summary><c>vnet0 (missing), vnet1 (3 rules missing, 1 unexpected)</c>, at most 10 ports named.</summary>
    private static string Describe(IReadOnlyList<BindingDrift> drift)
    {
        static string One(BindingDrift d) => d.Status == BindingDriftStatus.Missing
            ? $"{d.PortDevice} (missing)"
            : $"{d.PortDevice} ({d.MissingRules.Length} rule(s) missing, {d.UnexpectedRules.Length} unexpected)";
        var named = string.Join(", ", drift.Take(10).Select(One));
        return drift.Count > 10 ? $"{named} and {drift.Count - 10} more" : named;
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";
}
