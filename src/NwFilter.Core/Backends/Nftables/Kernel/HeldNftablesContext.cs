using System.Runtime.InteropServices;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.Nftables.Kernel;

/// <summary>What tells an applier whether the kernel changed since its last commit.</summary>
internal interface INftGenerationSource
{
    /// <summary>
    /// The kernel's nf_tables generation id and the epoch of the context that read it (a new context, e.g. after the
    /// namespace was re-created, is a new epoch); a null generation when it cannot be read.
    /// </summary>
    Task<(long Epoch, uint? Generation)> GenerationAsync();
}

/// <summary>
/// The held libnftables context of one network namespace, for a long-running process (nwfilterd, a pwsh session that
/// applies many changes; docs/design/nftables.md, "The held context"): the applier's nft requests
/// (<c>nft -j list chains</c>, <c>nft [-c] -f -</c>, <c>nft list ruleset</c>) run in one <see cref="LibNftablesRunner"/>
/// made on first use and kept, everything else goes to <paramref name="inner"/> (which already runs in the namespace).
/// The bridge-netfilter probe (<c>cat /proc/sys/net/bridge/...</c>) is read on the context's namespace thread too.
/// So a change is no process launch, and the applier that plans on the state it committed last
/// (<see cref="NftablesApplier"/>) can tell from the kernel's generation id, one netlink message, whether anything else
/// committed since (then it reads the state again).
/// </summary>
/// <remarks>
/// A named namespace is checked on every request (the inode of <c>/run/netns/NAME</c>): when it was deleted and made
/// again, the context is replaced. After <see cref="IdleRelease"/> without a request the context of a named namespace
/// is closed (its netlink socket would keep a deleted namespace and its interfaces alive); the next request opens a new
/// one. When no context can be made (the library refused, the namespace is gone), the request runs through
/// <paramref name="inner"/> as a process, which then says what is wrong.
/// </remarks>
internal sealed class HeldNftablesContext(IProcessRunner inner, string? networkNamespace) : IHeldFirewallContext, INftGenerationSource
{
    /// <summary>How long a named namespace's context stays open without a request.</summary>
    public static readonly TimeSpan IdleRelease = TimeSpan.FromSeconds(30);

    /// <summary>The setting that turns the held context off (<c>process</c>: every nft request is an nft process).</summary>
    public const string Variable = "NWFILTER_NFT_RUNNER";

    private readonly object _lock = new();
    private LibNftablesRunner? _runner;
    private ulong _inode;
    private long _epoch;
    private Timer? _idle;
    private bool _disposed;

    /// <summary>The namespace (null: this process's own).</summary>
    public string? NetworkNamespace { get; } = networkNamespace;

    /// <summary>True when a context can be held here: root, libnftables.so.1 present, and not turned off by <see cref="Variable"/>.</summary>
    public static bool CanHold(Func<string, string?>? environment = null) =>
        (environment ?? Environment.GetEnvironmentVariable)(Variable) != "process" && Native.geteuid() == 0 && LibNftablesRunner.IsAvailable;

    /// <summary>True when a context is open now.</summary>
    public bool IsOpen
    {
        get
        {
            lock (_lock)
            {
                return _runner is not null;
            }
        }
    }

    public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Program == NftablesApplier.NftProgram && Handled(request.Arguments) && !Large(request) && Context() is { } runner)
        {
            if (NetlinkBatch && request.Arguments.SequenceEqual(["-f", "-"]) && request.StandardInput is { } script && NftNetlinkBatch.Parse(script) is { } ops)
            {
                return BatchAsync(runner, request, ops, cancellationToken);
            }
            return runner.RunAsync(request, cancellationToken);
        }
        if (request.Program == "cat" && request.StandardInput is null && request.Arguments.Count > 0 &&
            request.Arguments.All(a => a.StartsWith("/proc/sys/net/", StringComparison.Ordinal) && !a.Contains("..", StringComparison.Ordinal)) && Context() is { } reader)
        {
            return reader.ReadNetSysctlsAsync(request); // the bridge-netfilter probe: no process either
        }
        return inner.RunAsync(request, cancellationToken);
    }

    /// <summary>
    /// True commits per-port scripts as our own netlink batch (<see cref="NftNetlinkBatch"/>); false (the default, unless
    /// <c>NWFILTER_NFT_BATCH=on</c>) sends every script through libnftables. Off by default: in nwfilterd the batch
    /// showed create times of up to 2 s that are not understood yet (docs/design/nftables.md 7.2).
    /// </summary>
    internal static bool NetlinkBatch { get; set; } = Environment.GetEnvironmentVariable(BatchVariable) == "on";

    /// <summary>The setting that turns the netlink batch on for a process (<c>NWFILTER_NFT_BATCH=on</c>).</summary>
    public const string BatchVariable = "NWFILTER_NFT_BATCH";

    private static long _batchCommits;
    private static long _batchFallbacks;

    /// <summary>Scripts committed as a netlink batch, and per-port scripts that went to libnftables after all, in this process (tests and the bench read them).</summary>
    internal static (long Commits, long Fallbacks) BatchCounts => (Interlocked.Read(ref _batchCommits), Interlocked.Read(ref _batchFallbacks));

    private static readonly object ScratchLock = new();
    private static LibNftablesRunner? _scratch;
    private static bool _scratchFailed;

    /// <summary>The process's one scratch context (an empty namespace of its own), made on first use; null when it cannot be made.</summary>
    private static LibNftablesRunner? ScratchContext()
    {
        lock (ScratchLock)
        {
            if (_scratch is null && !_scratchFailed)
            {
                try
                {
                    _scratch = LibNftablesRunner.Scratch();
                }
                catch (Exception e) when (e is InvalidOperationException or UnauthorizedAccessException or IOException or DllNotFoundException or EntryPointNotFoundException)
                {
                    _scratchFailed = true;
                }
            }
            return _scratch;
        }
    }

    /// <summary>
    /// A per-port script as one netlink batch: its rules compiled in the scratch context, then the batch in the real
    /// namespace. Whatever does not work out (no scratch context, a refused batch) runs the script through libnftables
    /// instead: a refused batch committed nothing, and libnftables then commits it or names the statement it refuses.
    /// </summary>
    private static async Task<ProcessResult> BatchAsync(LibNftablesRunner runner, ProcessRequest request, List<NftNetlinkBatch.Op> ops, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var rules = ScratchContext() is { } scratch ? await scratch.CompileRulesAsync(NftNetlinkBatch.ScratchScript(ops)).ConfigureAwait(false) : null;
        Diagnostics.PhaseTimings.Mark("nftables: rules compiled in the scratch context");
        var failure = rules is null ? (0, 0) : await runner.CommitBatchAsync(ops, rules).ConfigureAwait(false);
        Diagnostics.PhaseTimings.Mark("nftables: netlink batch committed");
        if (failure is (LibNftablesRunner.BatchOutcomeUnknown, -1))
        {
            // Sent, unanswered, and the generation moved by more than one: whether it committed cannot be told. The
            // script is not run again; the failure makes the applier read the state before it plans once more.
            Interlocked.Increment(ref _batchFallbacks);
            return new ProcessResult(request, 1, "", "-:1:1-1: Error: the nf_tables batch was sent but its answer was lost; the state is read again", clock.Elapsed);
        }
        if (failure is null)
        {
            Interlocked.Increment(ref _batchCommits);
            return new ProcessResult(request, 0, "", "", clock.Elapsed);
        }
        Interlocked.Increment(ref _batchFallbacks);
        return await runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
    }

    public async Task<(long Epoch, uint? Generation)> GenerationAsync()
    {
        var runner = Context();
        if (runner is null)
        {
            return (-1, null);
        }
        long epoch;
        lock (_lock)
        {
            epoch = _epoch;
        }
        return (epoch, await runner.GenerationAsync().ConfigureAwait(false));
    }

    /// <summary>Which of the names are interfaces of the namespace (asked on the context's namespace thread); null when no context can be made.</summary>
    public Task<IReadOnlySet<string>?> ExistingInterfacesAsync(IReadOnlyCollection<string> names) =>
        Context() is { } runner ? runner.ExistingInterfacesAsync(names) : Task.FromResult<IReadOnlySet<string>?>(null);

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            Close();
        }
    }

    /// <summary>
    /// Scripts above this size go to an nft process: for a transaction of many ports the library is slower than nft
    /// itself (it also updates its own cache, bench/README.md), and one process launch is nothing next to it.
    /// </summary>
    public const int LargeScript = 256 * 1024;

    private static bool Large(ProcessRequest request) => request.StandardInput is { Length: > LargeScript };

    private static bool Handled(IReadOnlyList<string> args) =>
        args.SequenceEqual(["-j", "list", "chains"]) || args.SequenceEqual(["-f", "-"]) || args.SequenceEqual(["-c", "-f", "-"]) || args.SequenceEqual(["list", "ruleset"]);

    /// <summary>The open context, made when there is none (or the namespace is not the one it was made in); null when none can be made.</summary>
    private LibNftablesRunner? Context()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return null;
            }
            var inode = NetworkNamespace is null ? 0 : Inode(Path.Combine(NwFilter.Core.Runtime.NwFilterRuntime.NamedNamespaceDirectory, NetworkNamespace));
            if (_runner is not null && inode != _inode)
            {
                Close();
            }
            if (_runner is null)
            {
                if (NetworkNamespace is not null && inode == 0)
                {
                    return null; // gone: the process says so
                }
                try
                {
                    _runner = new LibNftablesRunner(NetworkNamespace);
                }
                catch (Exception e) when (e is InvalidOperationException or UnauthorizedAccessException or IOException or DllNotFoundException or EntryPointNotFoundException)
                {
                    return null;
                }
                _inode = inode;
                _epoch++;
            }
            if (NetworkNamespace is not null)
            {
                _idle ??= new Timer(_ => Idle(), null, Timeout.Infinite, Timeout.Infinite);
                _idle.Change(IdleRelease, Timeout.InfiniteTimeSpan);
            }
            return _runner;
        }
    }

    private void Idle()
    {
        lock (_lock)
        {
            Close();
        }
    }

    private void Close()
    {
        _idle?.Dispose();
        _idle = null;
        _runner?.Dispose();
        _runner = null;
    }

    /// <summary>The inode of a path (the namespace's nsfs inode for a bind-mounted <c>/run/netns/NAME</c>); 0 when it cannot be read.</summary>
    private static ulong Inode(string path)
    {
        var buffer = new byte[256]; // struct stat: st_dev at 0, st_ino at 8 on x86_64 and aarch64
        return Native.stat(path, buffer) == 0 ? BitConverter.ToUInt64(buffer, 8) : 0;
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

        [DllImport("libc")]
        public static extern uint geteuid();
    }
}
