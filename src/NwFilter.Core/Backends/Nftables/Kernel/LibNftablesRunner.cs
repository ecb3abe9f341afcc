using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.Nftables.Kernel;

/// <summary>
/// Runs the applier's two nft requests (<c>nft -j list chains</c>, <c>nft [-c] -f -</c>) in this process through
/// libnftables, with one long-lived context per network namespace: no process launch, no exit-time netlink wait, the
/// library's cache kept between commands (PERFORMANCE.md). Use it as the applier's runner:
/// <c>new NftablesApplier(new LibNftablesRunner("ns"))</c> (the namespace goes to the runner, not the applier).
/// </summary>
/// <remarks>
/// The sharp edges (PERFORMANCE.md) and how they are met:
/// <list type="bullet">
/// <item>the library is imported as <c>libnftables.so.1</c> exactly;</item>
/// <item>every call is serialised process-wide (one context used from several threads crashed), and each context lives
/// on its own thread that entered the namespace with setns(2) before creating it, so its netlink socket and anything
/// it resolves belong to that namespace;</item>
/// <item>output and error are buffered by the library and read as pointers, copied, never freed by the marshaller;</item>
/// <item>the dry-run flag is a one-byte C bool; output flags are read, changed and written back whole;</item>
/// <item>scripts are passed as a memfd path, not a buffer, so an error names its line (in a buffer every error is line 1);</item>
/// <item>the library exits the process when it cannot open netlink: the context is only created as root, after the
/// namespace file opened; values reaching it are validated literals (a malformed address would make it resolve names);</item>
/// <item>found here: the context's cache takes in what a dry run (<c>-c</c>) or a failed transaction did, as if it had
/// committed (after checking a script that deletes the inet table, the next real script fails with "No such file or
/// directory; did you mean table nwfilter in family bridge?"). After either, the context is replaced by a fresh one.</item>
/// </list>
/// </remarks>
internal sealed partial class LibNftablesRunner : IProcessRunner, IDisposable
{
    private const string Library = "libnftables.so.1";
    private const int CloneNewNet = 0x40000000;
    private const uint OutputJson = 1 << 4; // NFT_CTX_OUTPUT_JSON
    private static readonly object CallLock = new();

    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;
    private IntPtr _context;
    private readonly Netlink _netlink = new();
    private readonly bool _private;

    /// <summary>A scratch context (see the private constructor); throws when the namespace cannot be made.</summary>
    public static LibNftablesRunner Scratch() => new(null, privateNamespace: true);

    /// <summary>A context in the namespace <paramref name="networkNamespace"/> (null: this process's own namespace).</summary>
    public LibNftablesRunner(string? networkNamespace = null) : this(networkNamespace, privateNamespace: false)
    {
    }

    /// <summary>
    /// With <paramref name="privateNamespace"/>, a context in a new, empty network namespace of its own (its thread
    /// unshares one): the scratch context that compiles rules for <see cref="NftNetlinkBatch"/> with an empty cache.
    /// </summary>
    private LibNftablesRunner(string? networkNamespace, bool privateNamespace)
    {
        if (networkNamespace is not null && !Host.NetworkNamespace.IsValidName(networkNamespace))
        {
            throw new ArgumentException($"'{networkNamespace}' is not a valid network namespace name.", nameof(networkNamespace));
        }
        NetworkNamespace = networkNamespace;
        _private = privateNamespace;
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _thread = new Thread(() => Loop(ready)) { IsBackground = true, Name = "libnftables " + (networkNamespace ?? "(own namespace)") };
        _thread.Start();
        ready.Task.GetAwaiter().GetResult();
    }

    public string? NetworkNamespace { get; }

    /// <summary>True when libnftables.so.1 can be loaded here.</summary>
    public static bool IsAvailable => NativeLibrary.TryLoad(Library, out var handle) && Free(handle);

    private static bool Free(IntPtr handle)
    {
        NativeLibrary.Free(handle);
        return true;
    }

    public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var result = new TaskCompletionSource<ProcessResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                result.SetResult(Execute(request));
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        }, cancellationToken);
        return result.Task;
    }

    public void Dispose()
    {
        if (_work.IsAddingCompleted)
        {
            return;
        }
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }

    private void Loop(TaskCompletionSource ready)
    {
        try
        {
            if (_private && Native.unshare(CloneNewNet) != 0)
            {
                throw new InvalidOperationException($"unshare of a network namespace failed (errno {Marshal.GetLastPInvokeError()}).");
            }
            if (NetworkNamespace is not null)
            {
                using var handle = File.OpenHandle(Path.Combine("/run/netns", NetworkNamespace));
                if (Native.setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns into {NetworkNamespace} failed (errno {Marshal.GetLastPInvokeError()}).");
                }
            }
            if (Native.geteuid() != 0)
            {
                throw new UnauthorizedAccessException("libnftables needs root: it would exit the process when it cannot open netlink.");
            }
            NewContext();
            ready.SetResult();
        }
        catch (Exception e)
        {
            ready.SetException(e);
            return;
        }
        foreach (var item in _work.GetConsumingEnumerable())
        {
            item();
        }
        lock (CallLock)
        {
            Native.nft_ctx_free(_context);
            _context = IntPtr.Zero;
        }
        _netlink.Close();
    }

    /// <summary>(Re)creates the context, on the namespace thread: its netlink socket opens in the namespace.</summary>
    private void NewContext()
    {
        lock (CallLock)
        {
            if (_context != IntPtr.Zero)
            {
                Native.nft_ctx_free(_context);
            }
            _context = Native.nft_ctx_new(0);
            Native.nft_ctx_buffer_output(_context);
            Native.nft_ctx_buffer_error(_context);
        }
    }

    /// <summary>Interprets the requests the applier makes; anything else is refused as a program that cannot start.</summary>
    private ProcessResult Execute(ProcessRequest request)
    {
        var clock = Stopwatch.StartNew();
        var args = request.Arguments;
        if (request.Program != NftablesApplier.NftProgram)
        {
            return new ProcessResult(request, ProcessResult.NotStartedExitCode, "", $"{request.Program}: not run by libnftables", clock.Elapsed);
        }
        if (args.SequenceEqual(["-j", "list", "chains"]) || args.SequenceEqual(["list", "ruleset"]))
        {
            var json = args[0] == "-j";
            var (code, output, error) = Command(json ? "list chains" : "list ruleset", json, dryRun: false);
            return new ProcessResult(request, code, output, error, clock.Elapsed);
        }
        var check = args.SequenceEqual(["-c", "-f", "-"]);
        if ((check || args.SequenceEqual(["-f", "-"])) && request.StandardInput is { } script)
        {
            var (code, output, error) = Script(script, check);
            if (check || code != 0)
            {
                NewContext(); // its cache now holds what the check or the failed transaction did
            }
            return new ProcessResult(request, code, output, error, clock.Elapsed);
        }
        return new ProcessResult(request, ProcessResult.NotStartedExitCode, "", $"nft {string.Join(' ', args)}: not supported by the libnftables runner", clock.Elapsed);
    }

    private (int Code, string Output, string Error) Command(string command, bool json, bool dryRun)
    {
        lock (CallLock)
        {
            var flags = Native.nft_ctx_output_get_flags(_context);
            Native.nft_ctx_output_set_flags(_context, json ? flags | OutputJson : flags & ~OutputJson);
            Native.nft_ctx_set_dry_run(_context, dryRun);
            var code = Native.nft_run_cmd_from_buffer(_context, command);
            return (code == 0 ? 0 : 1, Copy(Native.nft_ctx_get_output_buffer(_context)), Copy(Native.nft_ctx_get_error_buffer(_context)));
        }
    }

    private (int Code, string Output, string Error) Script(string script, bool dryRun)
    {
        var fd = Native.memfd_create("nwfilter-nft", 0);
        if (fd < 0)
        {
            return (ProcessResult.NotStartedExitCode, "", $"memfd_create failed (errno {Marshal.GetLastPInvokeError()})");
        }
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        RandomAccess.Write(handle, Encoding.UTF8.GetBytes(script), 0);
        lock (CallLock)
        {
            Native.nft_ctx_output_set_flags(_context, Native.nft_ctx_output_get_flags(_context) & ~OutputJson);
            Native.nft_ctx_set_dry_run(_context, dryRun);
            var code = Native.nft_run_cmd_from_filename(_context, $"/proc/self/fd/{fd}");
            Native.nft_ctx_set_dry_run(_context, false);
            var error = Copy(Native.nft_ctx_get_error_buffer(_context)).Replace($"/proc/self/fd/{fd}:", "-:", StringComparison.Ordinal);
            return (code == 0 ? 0 : 1, Copy(Native.nft_ctx_get_output_buffer(_context)), error);
        }
    }

    /// <summary>
    /// The kernel's nf_tables generation id in the runner's namespace (NFT_MSG_GETGEN on a netlink socket opened on the
    /// namespace thread): it changes with every committed transaction, whoever made it; null when it cannot be read.
    /// </summary>
    public Task<uint?> GenerationAsync()
    {
        var result = new TaskCompletionSource<uint?>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _work.Add(() => result.SetResult(_netlink.Generation()));
        }
        catch (InvalidOperationException)
        {
            result.SetResult(null); // disposed
        }
        return result.Task;
    }

    /// <summary>
    /// Reads the namespace's own sysctl files (<c>/proc/sys/net</c> is per network namespace, resolved by the opening
    /// thread) on the namespace thread, as <c>cat</c> would print them: each file's text in order, and cat's error line
    /// for a file that cannot be read (exit 1).
    /// </summary>
    public Task<ProcessResult> ReadNetSysctlsAsync(ProcessRequest request)
    {
        var result = new TaskCompletionSource<ProcessResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            var clock = Stopwatch.StartNew();
            var output = new StringBuilder();
            var error = new StringBuilder();
            foreach (var path in request.Arguments)
            {
                try
                {
                    output.Append(File.ReadAllText(path));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    error.Append(CultureInfo.InvariantCulture, $"cat: {path}: {(e is FileNotFoundException or DirectoryNotFoundException ? "No such file or directory" : e.Message)}\n");
                }
            }
            result.SetResult(new ProcessResult(request, error.Length == 0 ? 0 : 1, output.ToString(), error.ToString(), clock.Elapsed));
        });
        return result.Task;
    }

    /// <summary>Which of <paramref name="names"/> are interfaces of the runner's namespace (if_nametoindex on the namespace thread, one hop for all).</summary>
    public Task<IReadOnlySet<string>?> ExistingInterfacesAsync(IReadOnlyCollection<string> names)
    {
        var result = new TaskCompletionSource<IReadOnlySet<string>?>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _work.Add(() => result.SetResult(names.Where(n => Native.if_nametoindex(n) != 0).ToHashSet(StringComparer.Ordinal)));
        }
        catch (InvalidOperationException)
        {
            result.SetResult(null); // disposed
        }
        return result.Task;
    }

    /// <summary>
    /// On a scratch context: commits <paramref name="script"/> (<see cref="NftNetlinkBatch.ScratchScript"/>), reads
    /// back every rule of both tables as the kernel holds it, and removes the tables again. Null when any step fails.
    /// </summary>
    public Task<Dictionary<(byte Family, string Chain), List<NftNetlinkBatch.KernelRule>>?> CompileRulesAsync(string script)
    {
        var result = new TaskCompletionSource<Dictionary<(byte, string), List<NftNetlinkBatch.KernelRule>>?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                result.SetResult(CompileRules(script));
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        });
        return result.Task;
    }

    private Dictionary<(byte, string), List<NftNetlinkBatch.KernelRule>>? CompileRules(string script)
    {
        var (code, _, _) = Script(script, dryRun: false);
        if (code != 0)
        {
            NewContext();
            Command(NftNetlinkBatch.ScratchCleanup, json: false, dryRun: false);
            return null;
        }
        var fd = _netlink.Socket();
        var rules = new Dictionary<(byte, string), List<NftNetlinkBatch.KernelRule>>();
        foreach (var family in new byte[] { 7, 1 })
        {
            var dumped = fd < 0 ? null : NftNetlinkBatch.DumpRules(fd, family, ref _netlink.Sequence, _netlink.Buffer);
            if (dumped is null)
            {
                _netlink.Close();
                rules = null;
                break;
            }
            foreach (var (chain, list) in dumped)
            {
                rules[(family, chain)] = list;
            }
        }
        if (Command(NftNetlinkBatch.ScratchCleanup, json: false, dryRun: false).Code != 0)
        {
            NewContext();
        }
        return rules;
    }

    /// <summary>
    /// Commits a batch (<see cref="NftNetlinkBatch.Build"/>) on the runner's own netlink socket, in its namespace: null
    /// when the kernel took all of it; else the errno and script line of the first refused message (nothing committed),
    /// or errno with line 0 when the answer could not be read.
    /// </summary>
    public Task<(int Errno, int Line)?> CommitBatchAsync(List<NftNetlinkBatch.Op> ops, Dictionary<(byte Family, string Chain), List<NftNetlinkBatch.KernelRule>> rules)
    {
        var result = new TaskCompletionSource<(int, int)?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                var fd = _netlink.Socket();
                if (fd < 0)
                {
                    result.SetResult((Marshal.GetLastPInvokeError(), 0));
                    return;
                }
                var built = NftNetlinkBatch.Build(ops, (family, chain) => rules.GetValueOrDefault((family, chain)), ref _netlink.Sequence);
                if (built is not { } batch)
                {
                    result.SetResult((22, 0)); // EINVAL: the scratch kernel's rules do not match the statements
                    return;
                }
                var before = _netlink.Generation();
                fd = _netlink.Socket();
                var failure = fd < 0 || before is null ? (Marshal.GetLastPInvokeError(), 0) : NftNetlinkBatch.Commit(fd, batch.Batch, batch.Lines, _netlink.Buffer, out var unanswered) is var f && unanswered
                    ? Unanswered(before.Value, f)
                    : f;
                result.SetResult(failure);
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        });
        return result.Task;
    }

    /// <summary>
    /// A batch whose answer could not be read: the generation says what happened. Moved by one: it committed (null);
    /// unmoved: it did not (its failure, so the caller may run the script another way); anything else is unknown,
    /// reported as <see cref="BatchOutcomeUnknown"/> so that the caller reads the state again instead.
    /// </summary>
    private (int, int)? Unanswered(uint before, (int Errno, int Line)? failure)
    {
        _netlink.Close(); // a late answer must not be read as another request's
        var now = _netlink.Generation();
        return now == unchecked(before + 1) ? null : now == before ? failure ?? (BatchOutcomeUnknown, 0) : (BatchOutcomeUnknown, -1);
    }

    /// <summary>The errno reported when a batch's answer was lost and the generation cannot tell whether it committed.</summary>
    public const int BatchOutcomeUnknown = 110; // ETIMEDOUT

    /// <summary>A library-owned C string, copied (the library frees it on the next call).</summary>
    private static string Copy(IntPtr text) => text == IntPtr.Zero ? "" : Marshal.PtrToStringUTF8(text) ?? "";

    /// <summary>
    /// The one netlink request the runner makes itself: the nf_tables generation (linux/netfilter/nf_tables.h), on a
    /// socket opened once on the namespace thread and kept: closing a netfilter netlink socket after a commit that
    /// deleted something waits 10-20 ms for the kernel's cleanup (PERFORMANCE.md), which a socket per request would pay.
    /// </summary>
    private sealed class Netlink
    {
        private const int AfNetlink = 16;
        private const int SockRaw = 3;
        private const int SockCloexec = 0x80000;
        private const int NetlinkNetfilter = 12;
        private const ushort GetGen = (10 << 8) | 16; // NFNL_SUBSYS_NFTABLES, NFT_MSG_GETGEN
        private const ushort NewGen = (10 << 8) | 15; // NFT_MSG_NEWGEN
        private const ushort NlmFRequest = 1;
        private const ushort NftaGenId = 1;
        private readonly byte[] _reply = new byte[4096];
        private int _fd = -1;

        /// <summary>The receive buffer of the batch code's dumps and acknowledgements, made once (kept off the large-object heap's churn).</summary>
        public byte[] Buffer => _buffer ??= new byte[256 * 1024];

        private byte[]? _buffer;

        /// <summary>The last sequence number used on the socket (requests of the batch code too).</summary>
        public uint Sequence;

        /// <summary>The socket (opened when needed, in the thread's namespace); negative when it cannot be opened.</summary>
        public int Socket()
        {
            if (_fd < 0)
            {
                _fd = Native.socket(AfNetlink, SockRaw | SockCloexec, NetlinkNetfilter);
            }
            return _fd;
        }

        /// <summary>The generation, or null (the socket is then closed and made again next time).</summary>
        public uint? Generation()
        {
            if (_fd < 0)
            {
                _fd = Native.socket(AfNetlink, SockRaw | SockCloexec, NetlinkNetfilter);
                if (_fd < 0)
                {
                    return null;
                }
            }
            var generation = Ask(++Sequence);
            if (generation is null)
            {
                Close();
            }
            return generation;
        }

        public void Close()
        {
            if (_fd >= 0)
            {
                _ = Native.close(_fd);
                _fd = -1;
            }
        }

        private uint? Ask(uint sequence)
        {
            // nlmsghdr (len, type, flags, seq, pid) + nfgenmsg (family AF_UNSPEC, version 0, res_id 0), host byte order.
            var request = new byte[20];
            BitConverter.TryWriteBytes(request.AsSpan(0), 20u);
            BitConverter.TryWriteBytes(request.AsSpan(4), GetGen);
            BitConverter.TryWriteBytes(request.AsSpan(6), NlmFRequest);
            BitConverter.TryWriteBytes(request.AsSpan(8), sequence);
            if (Native.send(_fd, request, request.Length, 0) != request.Length)
            {
                return null;
            }
            for (var attempt = 0; attempt < 8; attempt++)
            {
                var length = (int)Native.recv(_fd, _reply, _reply.Length, 0);
                if (length < 20)
                {
                    return null;
                }
                if (BitConverter.ToUInt32(_reply, 8) != sequence)
                {
                    continue; // an answer to an earlier request
                }
                if (BitConverter.ToUInt16(_reply, 4) != NewGen)
                {
                    return null;
                }
                var messageLength = Math.Min(length, (int)BitConverter.ToUInt32(_reply, 0));
                for (var offset = 20; offset + 8 <= messageLength;)
                {
                    var attributeLength = BitConverter.ToUInt16(_reply, offset);
                    var type = BitConverter.ToUInt16(_reply, offset + 2) & 0x3fff;
                    if (attributeLength < 4)
                    {
                        break;
                    }
                    if (type == NftaGenId && attributeLength >= 8)
                    {
                        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(_reply.AsSpan(offset + 4, 4));
                    }
                    offset += (attributeLength + 3) & ~3;
                }
                return null;
            }
            return null;
        }
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int socket(int domain, int type, int protocol);

        [DllImport("libc", SetLastError = true)]
        public static extern nint send(int fd, byte[] buffer, nint length, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern nint recv(int fd, byte[] buffer, nint length, int flags);

        [DllImport("libc")]
        public static extern int close(int fd);

        [DllImport("libc")]
        public static extern uint if_nametoindex([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

        [DllImport(Library)]
        public static extern IntPtr nft_ctx_new(uint flags);

        [DllImport(Library)]
        public static extern void nft_ctx_free(IntPtr ctx);

        [DllImport(Library)]
        public static extern int nft_ctx_buffer_output(IntPtr ctx);

        [DllImport(Library)]
        public static extern int nft_ctx_buffer_error(IntPtr ctx);

        [DllImport(Library)]
        public static extern IntPtr nft_ctx_get_output_buffer(IntPtr ctx);

        [DllImport(Library)]
        public static extern IntPtr nft_ctx_get_error_buffer(IntPtr ctx);

        [DllImport(Library)]
        public static extern uint nft_ctx_output_get_flags(IntPtr ctx);

        [DllImport(Library)]
        public static extern void nft_ctx_output_set_flags(IntPtr ctx, uint flags);

        [DllImport(Library)]
        public static extern void nft_ctx_set_dry_run(IntPtr ctx, [MarshalAs(UnmanagedType.U1)] bool dry);

        [DllImport(Library)]
        public static extern int nft_run_cmd_from_buffer(IntPtr ctx, [MarshalAs(UnmanagedType.LPUTF8Str)] string buffer);

        [DllImport(Library)]
        public static extern int nft_run_cmd_from_filename(IntPtr ctx, [MarshalAs(UnmanagedType.LPUTF8Str)] string filename);

        [DllImport("libc", SetLastError = true)]
        public static extern int setns(int fd, int nstype);

        [DllImport("libc", SetLastError = true)]
        public static extern int unshare(int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int memfd_create([MarshalAs(UnmanagedType.LPUTF8Str)] string name, uint flags);

        [DllImport("libc")]
        public static extern uint geteuid();
    }
}
