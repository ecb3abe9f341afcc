using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Store;

namespace NwFilter.Core.Runtime;

// The learning service (Restore-NwFilterBinding -Wait, the daemon): the engine's part. Hosts map its events onto their
// streams and its cancellation onto their signals (Ctrl+C, SIGTERM).
public sealed partial class NwFilterRuntime
{
    /// <summary>
    /// Runs the learning service of a namespace until <paramref name="cancellationToken"/> is cancelled: restores its
    /// bindings (unless the request brings the restore the host ran), watches the binding store so bindings other
    /// processes create or change (whose own learners end with them) are taken over and learned, and learners of
    /// bindings removed elsewhere stop, and (unless <see cref="NwFilterRuntimeOptions.DriftRepair"/> is off) rules removed
    /// or changed behind its back are re-applied (<see cref="RepairDriftAsync"/>). On the way out it stops every learner
    /// of the namespace; the ports keep the rules they have. Cancellation ends it normally (no exception).
    /// </summary>
    public async Task<LearningServiceResponse> HandleAsync(LearningServiceRequest request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        var ns = Namespace(request.NetworkNamespace);
        var manager = Manager(ns);
        // The store as it was before this restore: a binding another process stores or removes while it runs is then
        // still a change at the first scan (a scan after it would take that binding for one already seen).
        var before = request.Restored is null ? Scan(manager) : null;
        var restored = request.Restored ?? await HandleAsync(new RestoreBindingsRequest(null, ns), host, cancellationToken).ConfigureAwait(false);
        var followed = restored.Items.Where(i => i.Learner is not null).Select(i => i.Learner!).Distinct().ToList();
        var seen = before is null ? Scan(manager) : Rewritten(manager, before, restored.Items.Select(i => i.PortDevice).ToList());
        var learners = 0;
        Announce(host, ns, RuntimeEventIds.LearningServiceStarted,
            $"NwFilter learning{Where(ns)}: {Describe(followed)}. Ctrl+C or SIGTERM stops learning; the rules in force stay.");
        using var stopRepair = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var repair = Options.DriftRepair ? Task.Run(() => RepairDriftAsync(host, manager, stopRepair.Token), CancellationToken.None) : Task.CompletedTask;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(Options.ServiceScanInterval, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                try
                {
                    seen = await AdoptAsync(host, manager, seen, followed, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }
        }
        finally
        {
            await stopRepair.CancelAsync().ConfigureAwait(false);
            await repair.ConfigureAwait(false);
            learners = manager.Learners?.Learners.Count ?? 0;
            if (manager.Learners is { } registry)
            {
                await registry.DisposeAsync().ConfigureAwait(false);
            }
            Announce(host, ns, RuntimeEventIds.LearningServiceStopped, $"NwFilter learning{Where(ns)} stopped ({learners} learner(s)); the rules in force stay.");
        }
        return new LearningServiceResponse(ns, learners);
    }

    /// <summary>Takes over bindings that changed in the store since the last look, and stops learners of removed ones.</summary>
    private async Task<Dictionary<string, DateTime>> AdoptAsync(IRuntimeHost host, BindingManager manager, Dictionary<string, DateTime> seen, List<IpLearner> followed, CancellationToken cancellationToken)
    {
        var ns = manager.NetworkNamespace;
        var now = Scan(manager);
        var changed = now.Where(p => !seen.TryGetValue(p.Key, out var t) || t != p.Value).Select(p => p.Key).ToList();
        var removed = seen.Keys.Where(p => !now.ContainsKey(p)).ToList();
        foreach (var port in removed)
        {
            // A learner may have ended by itself already (it notices its binding went at its next change): the service
            // still says so once for every port it was following, so the log does not depend on who noticed first.
            var wasFollowed = followed.RemoveAll(l => l.PortDevice == port) > 0;
            if (manager.Learners?.Get(port) is not null)
            {
                await manager.Learners.StopAsync(port).ConfigureAwait(false);
                wasFollowed = true;
            }
            if (wasFollowed)
            {
                Announce(host, ns, RuntimeEventIds.LearningStoppedBindingRemoved, $"The binding of {port} was removed: learning on it stopped.");
            }
        }
        var adopt = new List<string>();
        var starting = new List<string>();
        foreach (var port in changed)
        {
            if (manager.IsStartingLearner(port))
            {
                // This process's own create, its learner starting: looked at again at the next scan (adopted then only
                // if that learner did not start).
                starting.Add(port);
                continue;
            }
            var binding = Read(host, manager, port);
            if (binding is not null && manager.GetLearningStatus(binding) is { Listening: false } status &&
                !(status.Mode == IpLearningMode.Any && status.State == IpLearningState.Learned))
            {
                adopt.Add(port);
            }
        }
        if (adopt.Count == 0)
        {
            return Unseen(now, starting);
        }
        var result = await manager.RestoreAsync(adopt, null, cancellationToken).ConfigureAwait(false);
        foreach (var item in result.Items)
        {
            if (item.Error is { } error)
            {
                host.Report(RuntimeEvent.Failed(error, item.PortDevice) with { NetworkNamespace = ns });
            }
            if (item.Learner is { } learner)
            {
                host.LearnerStarted(new LearnerStarted(learner, ns));
                if (!followed.Contains(learner))
                {
                    followed.Add(learner);
                }
                Announce(host, ns, RuntimeEventIds.LearningTakenOver, $"Took over the binding of {item.PortDevice}: learning ({learner.Mode.ToString().ToLowerInvariant()}).");
            }
        }
        return Unseen(Rewritten(manager, now, adopt), starting);
    }

    /// <summary>
    /// The scan to compare the next one with after this process restored <paramref name="restored"/>: <paramref
    /// name="scan"/> with those files' new write times (the restore rewrote them). Only those: a binding another process
    /// removed or changed meanwhile (even while the host was being told of the takeover) must still look removed or
    /// changed at the next scan, not be taken for the state already seen.
    /// </summary>
    private static Dictionary<string, DateTime> Rewritten(BindingManager manager, Dictionary<string, DateTime> scan, List<string> restored)
    {
        var after = Scan(manager);
        foreach (var port in restored)
        {
            if (after.TryGetValue(port, out var written))
            {
                scan[port] = written;
            }
        }
        return scan;
    }

    private static Dictionary<string, DateTime> Unseen(Dictionary<string, DateTime> scan, List<string> ports)
    {
        foreach (var port in ports)
        {
            scan.Remove(port);
        }
        return scan;
    }

    private static Model.FilterBinding? Read(IRuntimeHost host, BindingManager manager, string port)
    {
        try
        {
            return manager.Store.Get(port);
        }
        catch (NwFilterException e)
        {
            host.Report(RuntimeEvent.Failed(e, port) with { NetworkNamespace = manager.NetworkNamespace });
            return null;
        }
    }

    /// <summary>The binding files and their last write times.</summary>
    private static Dictionary<string, DateTime> Scan(BindingManager manager)
    {
        var directory = manager.Store.Directory;
        if (!Directory.Exists(directory))
        {
            return [];
        }
        return Directory.EnumerateFiles(directory, "*.xml")
            .Where(f => !AtomicFile.IsTempFile(Path.GetFileName(f)))
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f), File.GetLastWriteTimeUtc, StringComparer.Ordinal);
    }

    private static string Describe(List<IpLearner> learners)
    {
        var running = learners.Where(l => !l.Completion.IsCompleted).ToList();
        return running.Count == 0
            ? "no binding learns its address now; watching for new bindings"
            : "learning on " + string.Join(", ", running.Select(l => $"{l.PortDevice} ({l.Mode.ToString().ToLowerInvariant()})"));
    }

    private static void Announce(IRuntimeHost host, string? ns, string id, string message) =>
        host.Report(new RuntimeEvent(RuntimeEventLevel.Information, id, message) { NetworkNamespace = ns });
}
