using System.Collections.Concurrent;

namespace NwFilter.Core.Learning;

/// <summary>
/// The learners of one network namespace, at most one per port device: what a binding manager keeps so that applying a
/// binding again, removing it, or a restart replaces or stops the right learner. Thread-safe; operations on the same
/// port are serialised.
/// </summary>
public sealed class IpLearnerRegistry : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, IpLearner> learners = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> locks = new(StringComparer.Ordinal);
    private readonly IFrameSource? frameSource;
    private readonly LeaseStore? store;
    private readonly TimeProvider? clock;

    /// <param name="store">Where leases are kept (null: not kept).</param>
    /// <param name="frameSource">The capture (null: libpcap).</param>
    /// <param name="clock">The clock (null: the system's).</param>
    public IpLearnerRegistry(LeaseStore? store = null, IFrameSource? frameSource = null, TimeProvider? clock = null)
    {
        this.store = store;
        this.frameSource = frameSource;
        this.clock = clock;
    }

    /// <summary>The lease store the learners use.</summary>
    public LeaseStore? Store => store;

    /// <summary>The clock the learners use (lease ends are read against it).</summary>
    public TimeProvider Clock => clock ?? TimeProvider.System;

    /// <summary>The learners held, in no particular order.</summary>
    public IReadOnlyCollection<IpLearner> Learners => [.. learners.Values];

    /// <summary>Raised when a learner was started (for a job type to pick it up).</summary>
    public event EventHandler<IpLearner>? LearnerStarted;

    /// <summary>The learner of <paramref name="portDevice"/>, or null.</summary>
    public IpLearner? Get(string portDevice) => learners.TryGetValue(portDevice, out var learner) ? learner : null;

    /// <summary>
    /// Starts a learner for the port of <paramref name="options"/>, first stopping the one it had. Returns once the
    /// new one listens; throws as <see cref="IpLearner.StartAsync"/> does (the port then has no learner).
    /// </summary>
    public async Task<IpLearner> StartAsync(IpLearnerOptions options, IAddressSink? sink, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var gate = locks.GetOrAdd(options.PortDevice, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (learners.TryRemove(options.PortDevice, out var old))
            {
                await old.DisposeAsync().ConfigureAwait(false);
            }
            var learner = new IpLearner(options, frameSource, sink, store, clock);
            try
            {
                await learner.StartAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                await learner.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            learners[options.PortDevice] = learner;
            LearnerStarted?.Invoke(this, learner);
            return learner;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Stops and forgets the learner of <paramref name="portDevice"/>; with <paramref name="forgetLeases"/> its stored
    /// leases go too (the binding was removed). True when there was a learner.
    /// </summary>
    public async Task<bool> StopAsync(string portDevice, bool forgetLeases = false)
    {
        ArgumentNullException.ThrowIfNull(portDevice);
        var gate = locks.GetOrAdd(portDevice, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var had = learners.TryRemove(portDevice, out var learner);
            if (learner is not null)
            {
                await learner.DisposeAsync().ConfigureAwait(false);
            }
            if (forgetLeases)
            {
                store?.Delete(portDevice);
            }
            return had;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Stops every learner (leases stay stored, for the next start).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var port in learners.Keys.ToList())
        {
            await StopAsync(port).ConfigureAwait(false);
        }
    }
}
