using System.Collections.Immutable;
using System.Net.Sockets;
using System.Threading.Channels;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Learning;

/// <summary>
/// Learns the addresses of one binding's VM by watching its port (libvirt's nwfilter_learnipaddr.c learner and
/// nwfilter_dhcpsnoop.c DHCP snooper; docs/design/learning.md).
/// <list type="bullet">
/// <item><c>any</c>: the first usable address the VM shows (IPv4 source, ARP, DHCP OFFER/ACK to it) is learned, the
/// sink is told, and the learner ends in <see cref="IpLearningState.Learned"/>.</item>
/// <item><c>dhcp</c>: every DHCP lease is tracked (added, renewed, released, expired on the clock) until stopped; the
/// sink is told each time the set of addresses changes.</item>
/// </list>
/// It never touches the firewall: the owner applies <see cref="Backends.EbIpTables.LearningRules"/> before starting it and re-instantiates
/// the binding in its <see cref="IAddressSink"/>. All work after <see cref="StartAsync"/> runs on one task of its own.
/// </summary>
public sealed class IpLearner : IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan WarningInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan LongestWait = TimeSpan.FromHours(12);

    private readonly IFrameSource frameSource;
    private readonly IAddressSink? sink;
    private readonly LeaseStore? store;
    private readonly TimeProvider clock;
    private readonly ulong mac;
    private readonly DhcpLeaseTable table;
    private readonly RateLimiter toVmLimit;
    private readonly RateLimiter fromVmLimit;
    private readonly Channel<IpLearningEvent> events =
        Channel.CreateBounded<IpLearningEvent>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource stop = new();
    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object gate = new();
    private ImmutableArray<LearnedAddress> addresses = [];
    private volatile IpLearningState state = IpLearningState.NotStarted;
    private IFrameCapture? capture;
    private CancellationTokenRegistration lifetime;
    private long framesSeen;
    private DateTimeOffset lastWarning = DateTimeOffset.MinValue;
    private long reportedOverflow;
    private long refusedClaims;
    private long reportedRefusedClaims;

    /// <summary>A learner for one port; without the optional arguments it captures with libpcap, reports to no sink, persists no leases and uses the system clock. <see cref="StartAsync"/> begins listening.</summary>
    public IpLearner(IpLearnerOptions options, IFrameSource? frameSource = null, IAddressSink? sink = null, LeaseStore? store = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        mac = FrameDecoder.MacValue(options.MacAddress);
        this.frameSource = frameSource ?? PcapFrameSource.Instance;
        this.sink = sink;
        this.store = store;
        this.clock = clock ?? TimeProvider.System;
        table = new DhcpLeaseTable(options.PortDevice, options.AllServers, options.LearnIPv6, options.MaxLeases) { LearnIPv4 = options.LearnIPv4 };
        toVmLimit = new RateLimiter(options.DhcpRatePerSecond, options.DhcpBurst);
        fromVmLimit = new RateLimiter(options.DhcpRatePerSecond, options.DhcpBurst);
    }

    /// <summary>What the learner was created with.</summary>
    public IpLearnerOptions Options { get; }

    /// <summary>The port device it watches.</summary>
    public string PortDevice => Options.PortDevice;

    /// <summary>How it learns (from any traffic or from DHCP only).</summary>
    public IpLearningMode Mode => Options.Mode;

    /// <summary>Where it is in its life (see <see cref="IpLearningState"/>).</summary>
    public IpLearningState State => state;

    /// <summary>The addresses held now, in the order learned.</summary>
    public ImmutableArray<LearnedAddress> Addresses => ImmutableInterlocked.InterlockedCompareExchange(ref addresses, default, default);

    /// <summary>Every event, in order (the oldest are dropped past 1,024 unread). Completes when the learner ends.</summary>
    public ChannelReader<IpLearningEvent> Events => events.Reader;

    /// <summary>Raised for every event, on the learner's task (or the reporter's thread); handlers must be quick.</summary>
    public event EventHandler<IpLearningEvent>? EventRaised;

    /// <summary>Raised when <see cref="State"/> changes.</summary>
    public event EventHandler<IpLearningState>? StateChanged;

    /// <summary>Completes when the learner has ended, whatever its final state.</summary>
    public Task Completion => completion.Task;

    /// <summary>Frames read from the capture so far.</summary>
    public long FramesSeen => Interlocked.Read(ref framesSeen);

    /// <summary>
    /// Restores stored leases, opens the capture and starts listening; returns once it listens. Cancelling
    /// <paramref name="cancellationToken"/> later stops the learner (as <see cref="StopAsync"/>). Throws
    /// <see cref="NwFilterException"/> when the capture cannot be opened (the learner is then Failed).
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (gate)
        {
            if (state != IpLearningState.NotStarted)
            {
                throw new InvalidOperationException($"The learner of '{PortDevice}' was already started.");
            }
            SetState(IpLearningState.Learning);
        }
        var now = clock.GetUtcNow();
        var restored = Restore(now);
        if (!IsDone(restored))
        {
            try
            {
                capture = await frameSource.OpenAsync(Options.ToCaptureRequest(), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Finish(IpLearningState.Stopped);
                throw;
            }
            catch (Exception e)
            {
                Report(new LearningFailed(PortDevice, clock.GetUtcNow(), e.Message, e));
                Finish(IpLearningState.Failed);
                throw;
            }
        }
        lifetime = cancellationToken.Register(static s => ((IpLearner)s!).stop.Cancel(), this);
        _ = Task.Run(() => RunAsync(restored));
    }

    /// <summary>Stops listening and waits until the learner has ended. Addresses stay readable.</summary>
    public async Task StopAsync()
    {
        lock (gate)
        {
            if (state == IpLearningState.NotStarted)
            {
                Finish(IpLearningState.Stopped);
                return;
            }
        }
        stop.Cancel();
        await Completion.ConfigureAwait(false);
    }

    /// <summary>Adds an event to this learner's stream (the binding layer's re-instantiation outcome).</summary>
    public void Report(IpLearningEvent learningEvent)
    {
        ArgumentNullException.ThrowIfNull(learningEvent);
        events.Writer.TryWrite(learningEvent);
        EventRaised?.Invoke(this, learningEvent);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        lifetime.Dispose();
        stop.Dispose();
    }

    /// <inheritdoc/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override string ToString() => $"{PortDevice} ({Mode}, {State}{(Addresses.IsEmpty ? "" : ": " + string.Join(", ", Addresses.Select(a => a.Address)))})";

    private ImmutableArray<LearnedAddress> Restore(DateTimeOffset now)
    {
        if (store is null)
        {
            return [];
        }
        try
        {
            var stored = store.Load(PortDevice, Options.MacAddress, now)
                .Where(a => a.Address.AddressFamily == AddressFamily.InterNetwork ? Options.LearnIPv4 : Options.LearnIPv6).ToList();
            if (Mode == IpLearningMode.Dhcp)
            {
                table.Restore(stored, now);
                return table.Leases;
            }
            // any: one address per family, as if just learned.
            return [.. stored.GroupBy(a => a.Address.AddressFamily).Select(g => g.First())];
        }
        catch (Exception e) when (e is NwFilterException or IOException or UnauthorizedAccessException)
        {
            Report(new LearningWarning(PortDevice, now, $"stored leases not restored: {e.Message}", e));
            return [];
        }
    }

    /// <summary>In <c>any</c> mode, learning ends once an IPv4 address is known (when asked for) and an IPv6 one (when asked for).</summary>
    private bool IsDone(ImmutableArray<LearnedAddress> known) =>
        Mode == IpLearningMode.Any &&
        (!Options.LearnIPv4 || known.Any(a => a.Address.AddressFamily == AddressFamily.InterNetwork)) &&
        (!Options.LearnIPv6 || known.Any(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6));

    private async Task RunAsync(ImmutableArray<LearnedAddress> restored)
    {
        var final = IpLearningState.Stopped;
        try
        {
            if (!restored.IsEmpty)
            {
                var cause = new LeasesRestored(PortDevice, clock.GetUtcNow(), restored);
                Report(cause);
                if (!await ChangeAsync(restored, cause).ConfigureAwait(false) && Mode == IpLearningMode.Any)
                {
                    final = IpLearningState.Failed;
                    return;
                }
            }
            if (IsDone(restored))
            {
                final = IpLearningState.Learned;
                return;
            }
            final = await ListenAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            final = IpLearningState.Stopped;
        }
        catch (Exception e)
        {
            Report(new LearningFailed(PortDevice, clock.GetUtcNow(), e.Message, e));
            final = IpLearningState.Failed;
        }
        finally
        {
            capture?.Dispose();
            Finish(final);
        }
    }

    /// <summary>The loop: expire leases, wait for a frame or the next expiry, handle what came. Returns the final state.</summary>
    private async Task<IpLearningState> ListenAsync()
    {
        var frames = capture!.Frames;
        while (true)
        {
            if (Mode == IpLearningMode.Dhcp)
            {
                await ExpireAsync().ConfigureAwait(false);
            }
            if (!await WaitAsync(frames).ConfigureAwait(false))
            {
                continue; // a lease is due
            }
            while (frames.TryRead(out var frame))
            {
                Interlocked.Increment(ref framesSeen);
                var done = await HandleAsync(frame).ConfigureAwait(false);
                if (done is { } final)
                {
                    return final;
                }
            }
            WarnAboutOverflow();
        }
    }

    /// <summary>Waits for frames (true) or the next lease end (false); throws when stopped or the capture failed.</summary>
    private async Task<bool> WaitAsync(ChannelReader<CapturedFrame> frames)
    {
        var next = table.NextExpiry;
        if (Mode != IpLearningMode.Dhcp || next is null)
        {
            return await frames.WaitToReadAsync(stop.Token).ConfigureAwait(false) ? true : throw CaptureEnded();
        }
        var delay = next.Value - clock.GetUtcNow();
        if (delay <= TimeSpan.Zero)
        {
            return false;
        }
        using var timer = new CancellationTokenSource(delay < LongestWait ? delay : LongestWait, clock);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, timer.Token);
        try
        {
            return await frames.WaitToReadAsync(either.Token).ConfigureAwait(false) ? true : throw CaptureEnded();
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return false;
        }
    }

    private IOException CaptureEnded() => new($"the capture on '{Options.CaptureDevice}' ended");

    /// <summary>Handles one frame; returns the final state when learning is over.</summary>
    private async Task<IpLearningState?> HandleAsync(CapturedFrame frame)
    {
        var observation = FrameDecoder.Decode(frame.Data, mac);
        if (observation is null)
        {
            return null;
        }
        var now = clock.GetUtcNow();
        var limiter = observation switch
        {
            DhcpToVm or Dhcpv6ToVm => toVmLimit,
            DhcpFromVm => fromVmLimit,
            _ => null,
        };
        if (limiter is not null && !limiter.TryAdmit(now))
        {
            return null;
        }

        if (Mode == IpLearningMode.Any)
        {
            var learned = AnyModeDecision.Decide(observation, Options.AllServers, Options.LearnIPv6, now);
            if (learned is null && observation is AddressClaim { Address: { } claimed } && AddressRules.IsNeverOwnable(claimed))
            {
                // An address no VM can own (multicast, loopback, IPv4-mapped): never learned, counted so that a flood of
                // them is reported (WarnAboutOverflow).
                refusedClaims++;
            }
            if (learned is null || (!Options.LearnIPv4 && learned.Address.AddressFamily == AddressFamily.InterNetwork) ||
                Addresses.Any(a => a.Address.AddressFamily == learned.Address.AddressFamily))
            {
                return null;
            }
            var cause = new AddressLearned(PortDevice, now, learned);
            Report(cause);
            var known = Addresses.Add(learned);
            if (!await ChangeAsync(known, cause).ConfigureAwait(false))
            {
                return IpLearningState.Failed;
            }
            return IsDone(known) ? IpLearningState.Learned : null;
        }

        var change = table.Apply(observation, now);
        switch (change)
        {
            case null:
                break;
            case AddressLearned or LeaseReleased:
                Report(change);
                await ChangeAsync(table.Leases, change).ConfigureAwait(false);
                break;
            case LeaseRenewed:
                Report(change);
                Commit(table.Leases, persist: true);
                break;
            default:
                Report(change);
                break;
        }
        return null;
    }

    private async Task ExpireAsync()
    {
        var expired = table.Expire(clock.GetUtcNow());
        if (expired.Count == 0)
        {
            return;
        }
        foreach (var e in expired)
        {
            Report(e);
        }
        await ChangeAsync(table.Leases, expired[0]).ConfigureAwait(false);
    }

    /// <summary>Takes a new address set: publishes, persists, tells the sink. False when the sink failed.</summary>
    private async Task<bool> ChangeAsync(ImmutableArray<LearnedAddress> now, IpLearningEvent cause)
    {
        Commit(now, persist: cause is not LeasesRestored);
        if (sink is null)
        {
            return true;
        }
        var change = new AddressChange(PortDevice, now, cause);
        try
        {
            await sink.AddressesChangedAsync(this, change, stop.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw;
        }
        catch (AddressChangeRejectedException)
        {
            return false; // the sink reported its failure as an event of its own
        }
        catch (Exception e)
        {
            Report(new AddressSinkFailed(PortDevice, clock.GetUtcNow(), change, e));
            return false;
        }
    }

    private void Commit(ImmutableArray<LearnedAddress> now, bool persist)
    {
        ImmutableInterlocked.InterlockedExchange(ref addresses, now);
        lock (gate)
        {
            if (state is IpLearningState.Learning or IpLearningState.Learned)
            {
                SetState(now.IsEmpty ? IpLearningState.Learning : IpLearningState.Learned);
            }
        }
        if (persist && store is not null)
        {
            try
            {
                store.Save(PortDevice, Options.MacAddress, Mode, now);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Report(new LearningWarning(PortDevice, clock.GetUtcNow(), $"leases not saved: {e.Message}", e));
            }
        }
    }

    /// <summary>
    /// At most one warning a minute: frames refused over the rate limit or the capture queue's length, and (any mode)
    /// frames claiming addresses that are never learned, once they reach <see cref="RefusedClaimsWarning"/>.
    /// </summary>
    private void WarnAboutOverflow()
    {
        var overflow = toVmLimit.Refused + fromVmLimit.Refused + capture!.Dropped;
        var refused = refusedClaims - reportedRefusedClaims;
        var now = clock.GetUtcNow();
        if ((overflow > reportedOverflow || refused >= RefusedClaimsWarning) && now - lastWarning >= WarningInterval)
        {
            var parts = new List<string>(2);
            if (overflow > reportedOverflow)
            {
                parts.Add($"{overflow - reportedOverflow} frames ignored over the rate limit or queue length");
            }
            if (refused >= RefusedClaimsWarning)
            {
                parts.Add($"{refused} frames claimed addresses no VM can own (multicast, loopback, IPv4-mapped); none was learned");
                reportedRefusedClaims = refusedClaims;
            }
            Report(new LearningWarning(PortDevice, now, string.Join("; ", parts), null));
            reportedOverflow = overflow;
            lastWarning = now;
        }
    }

    /// <summary>How many never-learnable address claims make a warning (the unspecified and link-local addresses of a guest's own start-up traffic are not counted).</summary>
    internal const int RefusedClaimsWarning = 64;

    private void Finish(IpLearningState final)
    {
        lock (gate)
        {
            if (completion.Task.IsCompleted)
            {
                return;
            }
            SetState(final);
        }
        Report(new LearningStopped(PortDevice, clock.GetUtcNow(), final));
        events.Writer.TryComplete();
        completion.TrySetResult();
    }

    private void SetState(IpLearningState value)
    {
        if (state == value)
        {
            return;
        }
        state = value;
        StateChanged?.Invoke(this, value);
    }
}
