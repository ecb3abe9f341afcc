namespace NwFilter.Core.Host;

/// <summary>
/// Something that tells when a namespace's firewall may have changed behind NwFilter's back: the kernel's nf_tables
/// change events (netlink), a firewall manager's reload signal (firewalld's <c>Reloaded</c> on D-Bus,
/// <see cref="FirewalldReloadWatch"/>), or anything a host or test plugs in. The drift repair of the service
/// (docs/design/drift-repair.md) checks the bindings after each signal; a signal that was not a change costs one check.
/// </summary>
public interface IRulesetChangeSource
{
    /// <summary>What it watches, for the log (<c>nf_tables netlink events in network namespace lab1</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Watches until <paramref name="cancellationToken"/> is cancelled, calling <paramref name="changed"/> with a short
    /// description of each change (<c>new generation 7 by process 4711 (nft)</c>). Returns when cancelled; throws when
    /// the watch cannot start or ends by itself (the service then falls back to its periodic check and says so).
    /// </summary>
    Task WatchAsync(Action<string> changed, CancellationToken cancellationToken);
}
