using System.Net.Sockets;
using NwFilter.Daemon.Procedures;
using NwFilter.Daemon.Protocol;

namespace NwFilter.Daemon.Server;

/// <summary>One listening socket: where it is, whether it only reads, who may connect.</summary>
/// <param name="Path">The socket's path (for the log; also unlinked at the end when this server made it).</param>
/// <param name="Socket">The bound, listening socket.</param>
/// <param name="ReadOnly">Connections may only read (any peer may connect).</param>
/// <param name="Owned">The server created the socket file (not systemd): it removes it on the way out.</param>
internal sealed record Listener(string Path, Socket Socket, bool ReadOnly, bool Owned)
{
    /// <summary>nwfilterd's control socket (the runtime's requests as JSON, <see cref="ControlServer"/>), not libvirt's RPC.</summary>
    public bool Control { get; init; }

    /// <summary>
    /// The accept loop both servers share: each accepted connection is served by <paramref name="serve"/> on its own
    /// task (which must not throw) until <paramref name="stop"/>; returns when every connection ended, having removed
    /// the socket file where this process made it.
    /// </summary>
    public async Task AcceptAsync(Func<Socket, Task> serve, Action<string> log, CancellationToken stop)
    {
        var connections = new List<Task>();
        using var registration = stop.Register(() => Socket.Close());
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await Socket.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && stop.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException e)
            {
                log($"accept on {Path} failed: {e.Message}");
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            connections.RemoveAll(t => t.IsCompleted);
            connections.Add(Task.Run(() => serve(client), CancellationToken.None));
        }
        await Task.WhenAll(connections).ConfigureAwait(false);
        if (Owned)
        {
            try
            {
                File.Delete(Path);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>
/// Serves libvirt's RPC on Unix sockets: accepts, checks the peer (root or the configured group on the read-write
/// socket), then reads frames, dispatches them and writes the replies, one connection at a time per task. A bad frame
/// closes that connection only; nothing one client sends reaches another.
/// </summary>
internal sealed class UnixSocketServer(RpcDispatcher<ConnectionState> dispatcher, Action<string> log, uint? group = null, int maxConnections = 1024, TimeSpan? requestTimeout = null,
    int maxPerUser = UnixSocketServer.DefaultMaxPerUser)
{
    /// <summary>How many connections one user other than root may hold at once (libvirt's max_anonymous_clients is 20).</summary>
    public const int DefaultMaxPerUser = 32;

    /// <summary>The daemon's effective user id: its own user's connections are not limited (a daemon run by a non-root user).</summary>
    private static readonly uint OwnUserId = geteuid();

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
    private static extern uint geteuid();

    // Open connections per non-root uid: one user (anyone, on the read-only socket) cannot fill every slot.
    private readonly Dictionary<uint, int> _perUser = [];

    private long _nextId;
    private int _open;

    /// <summary>Connections open now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Binds a socket at <paramref name="path"/> (replacing a stale file, refusing one a server answers on).</summary>
    public static Listener Bind(string path, bool readOnly, uint? group)
    {
        if (File.Exists(path) || Directory.Exists(path))
        {
            if (IsServed(path))
            {
                throw new IOException($"{path} is served by another process (libvirt's own nwfilter daemon, or a second nwfilterd): stop it first.");
            }
            File.Delete(path);
        }
        var dir = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        // The read-write socket: root only (or root and a group); the read-only one: anyone, as libvirt's.
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("nwfilterd serves Linux hosts only.");
        }
        File.SetUnixFileMode(path, readOnly ? (UnixFileMode)0b110_110_110 : group is null ? UnixFileMode.UserRead | UnixFileMode.UserWrite : (UnixFileMode)0b110_110_000);
        if (group is { } g && !readOnly)
        {
            Chown(path, g);
        }
        socket.Listen(256);
        return new Listener(path, socket, readOnly, Owned: true);
    }

    /// <summary>True when something accepts connections at <paramref name="path"/>.</summary>
    public static bool IsServed(string path)
    {
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Accepts on <paramref name="listener"/> until <paramref name="stop"/>; returns when every connection of it ended.</summary>
    public Task RunAsync(Listener listener, CancellationToken stop) =>
        listener.AcceptAsync(client => ServeAsync(client, listener, stop), log, stop);

    /// <summary>One connection, from the credential check to the close. Never throws.</summary>
    internal async Task ServeAsync(Socket client, Listener listener, CancellationToken stop)
    {
        var id = Interlocked.Increment(ref _nextId);
        var open = Interlocked.Increment(ref _open);
        try
        {
            using (client)
            {
                PeerCredentials peer;
                try
                {
                    peer = PeerCredentials.Of(client);
                }
                catch (SocketException e)
                {
                    log($"connection {id} refused: its peer credentials cannot be read ({e.Message})");
                    return;
                }
                if (!listener.ReadOnly && !peer.IsAllowed(group))
                {
                    log($"connection {id} refused: {peer} is not root{(group is null ? "" : " nor in group " + group)}");
                    return;
                }
                // Root (and the daemon's own user, who owns the socket anyway) is never kept out by others' connections;
                // everyone else shares maxConnections, at most maxPerUser each.
                var limited = peer.UserId != 0 && peer.UserId != OwnUserId;
                if (limited && open > maxConnections)
                {
                    log($"connection {id} refused: {maxConnections} connections are open already");
                    return;
                }
                if (limited && !Enter(peer.UserId))
                {
                    log($"connection {id} refused: {peer} holds {maxPerUser} connections already");
                    return;
                }
                try
                {
                    var state = new ConnectionState(id, peer.ToString(), listener.ReadOnly);
                    await using var stream = new NetworkStream(client, ownsSocket: false);
                    await ServeAsync(stream, state, stop).ConfigureAwait(false);
                }
                finally
                {
                    if (limited)
                    {
                        Leave(peer.UserId);
                    }
                }
            }
        }
        catch (Exception e)
        {
            log($"connection {id} failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    private bool Enter(uint user)
    {
        lock (_perUser)
        {
            var n = _perUser.GetValueOrDefault(user);
            if (n >= maxPerUser)
            {
                return false;
            }
            _perUser[user] = n + 1;
            return true;
        }
    }

    private void Leave(uint user)
    {
        lock (_perUser)
        {
            if (--_perUser[user] == 0)
            {
                _perUser.Remove(user);
            }
        }
    }

    /// <summary>The frame loop over any stream (tests use pipes): until EOF, a bad frame, or the stop.</summary>
    internal async Task ServeAsync(Stream stream, ConnectionState state, CancellationToken stop)
    {
        var reader = new FrameReader(stream, frameTimeout: requestTimeout);
        while (!stop.IsCancellationRequested)
        {
            RpcMessage? message;
            try
            {
                message = await reader.ReadAsync(stop).ConfigureAwait(false);
            }
            catch (FrameException e)
            {
                log($"connection {state.Id} ({state.Peer}) closed: {e.Message}");
                return;
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            if (message is null)
            {
                return;
            }
            var reply = await dispatcher.DispatchAsync(message, state, CancellationToken.None).ConfigureAwait(false);
            if (reply is null)
            {
                continue;
            }
            if (reply.Header.Status == MessageStatus.Error)
            {
                log($"connection {state.Id} call {message.Header.Procedure} refused: {ErrorText(reply)}");
            }
            // A client that does not read its replies cannot hold the connection (and its slot) for ever either.
            using var writeDeadline = new CancellationTokenSource(requestTimeout ?? Timeout.InfiniteTimeSpan);
            try
            {
                await stream.WriteAsync(reply.Encode(), writeDeadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                log($"connection {state.Id} ({state.Peer}) closed: a reply was not taken within {requestTimeout!.Value.TotalSeconds:0.#} s");
                return;
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private static string ErrorText(RpcMessage reply)
    {
        try
        {
            var r = new XdrReader(reply.Body.Span);
            var code = r.ReadInt32();
            r.ReadInt32();
            return $"{r.ReadOptionalString(Rpc.MaxString)} (code {code})";
        }
        catch (XdrException)
        {
            return "?";
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, EntryPoint = "chown")]
    private static extern int NativeChown(string path, int owner, int group);

    private static void Chown(string path, uint group)
    {
        if (NativeChown(path, -1, (int)group) != 0)
        {
            throw new IOException($"cannot give {path} to group {group} (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }
    }
}
