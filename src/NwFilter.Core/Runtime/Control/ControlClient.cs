using System.Net.Sockets;
using System.Text.Json.Nodes;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Store;

namespace NwFilter.Core.Runtime.Control;

/// <summary>How a host chooses its door (<see cref="ControlContract.ModeVariable"/>).</summary>
public enum DoorMode
{
    /// <summary>Through nwfilterd when its control socket answers for the same store; else in-process.</summary>
    Auto,
    /// <summary>Always through nwfilterd; an error when it does not answer (or serves another store).</summary>
    Daemon,
    /// <summary>Always in-process.</summary>
    InProcess,
}

/// <summary>
/// One connection to nwfilterd's control socket (docs/design/runtime.md, "Doors"): the hello, then one request whose
/// events, progress and confirmations are handed to the caller's <see cref="IRuntimeHost"/> as if the runtime ran here.
/// </summary>
public sealed class ControlClient : IAsyncDisposable, IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private ControlClient(Socket socket, string path, JsonObject hello)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        SocketPath = path;
        Location = new StoreLocation(ControlContract.Str(hello, "configDirectory", "hello"), ControlContract.Str(hello, "stateDirectory", "hello"));
        Server = ControlContract.OptStr(hello, "server") ?? "nwfilterd";
    }

    /// <summary>The socket's path.</summary>
    public string SocketPath { get; }

    /// <summary>The store the daemon serves.</summary>
    public StoreLocation Location { get; }

    /// <summary>The daemon's name and version, from its hello.</summary>
    public string Server { get; }

    /// <summary>The door the environment chooses (<see cref="ControlContract.ModeVariable"/>); a value that is no mode is an error.</summary>
    public static DoorMode ModeFromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(ControlContract.ModeVariable);
        return value?.Trim().ToLowerInvariant() switch
        {
            null or "" or "auto" => DoorMode.Auto,
            "daemon" or "nwfilterd" => DoorMode.Daemon,
            "inprocess" or "in-process" or "local" => DoorMode.InProcess,
            _ => throw new NwFilterException(Diagnostic.Error("InvalidDaemonMode",
                $"{ControlContract.ModeVariable} is '{value}'; it is auto (nwfilterd when it answers), daemon (always nwfilterd) or inprocess.", DiagnosticCategory.InvalidArgument)),
        };
    }

    /// <summary>The control socket the environment names (<see cref="ControlContract.SocketVariable"/>), else the default.</summary>
    public static string SocketFromEnvironment() =>
        Environment.GetEnvironmentVariable(ControlContract.SocketVariable) is { Length: > 0 } p ? p : ControlContract.DefaultSocket;

    /// <summary>
    /// The door for a command on <paramref name="location"/>: an open client when nwfilterd answers for that store (and
    /// the mode allows it), null for in-process. With <see cref="DoorMode.Daemon"/> a daemon that does not answer, or
    /// serves another store, is an error (<see cref="ControlContract.DaemonUnavailable"/>).
    /// </summary>
    public static ControlClient? Choose(StoreLocation location, DoorMode mode, string socketPath, TimeSpan? timeout = null)
    {
        if (mode == DoorMode.InProcess || (mode == DoorMode.Auto && !File.Exists(socketPath)))
        {
            return null;
        }
        ControlClient client;
        try
        {
            client = Connect(socketPath, timeout ?? TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is SocketException or IOException or NwFilterException or UnauthorizedAccessException or TimeoutException)
        {
            if (mode == DoorMode.Auto)
            {
                return null; // a stale socket file, or a socket this user may not use: work in-process as without a daemon
            }
            throw new NwFilterException(Diagnostic.Error(ControlContract.DaemonUnavailable,
                $"nwfilterd does not answer on {socketPath} ({e.Message}); {ControlContract.ModeVariable}=daemon requires it. Start it (systemctl start nwfilterd) or set {ControlContract.ModeVariable}=auto. Nothing was changed.",
                DiagnosticCategory.ResourceUnavailable));
        }
        if (client.Location.ConfigDirectory != location.ConfigDirectory || client.Location.StateDirectory != location.StateDirectory)
        {
            client.Dispose();
            if (mode == DoorMode.Auto)
            {
                return null;
            }
            throw new NwFilterException(Diagnostic.Error(ControlContract.DaemonUnavailable,
                $"nwfilterd on {socketPath} serves the store {client.Location.ConfigDirectory} (state {client.Location.StateDirectory}), not {location.ConfigDirectory} (state {location.StateDirectory}); set NWFILTER_CONFIG_DIR and NWFILTER_STATE_DIR as the daemon has them. Nothing was changed.",
                DiagnosticCategory.InvalidOperation));
        }
        return client;
    }

    /// <summary>Connects and exchanges hellos.</summary>
    public static ControlClient Connect(string socketPath, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            socket.SendTimeout = (int)timeout.TotalMilliseconds;
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var hello = ControlContract.Message("hello");
            hello["version"] = ControlContract.Version;
            using var cts = new CancellationTokenSource(timeout);
            ControlContract.WriteAsync(stream, hello, cts.Token).GetAwaiter().GetResult();
            var answer = ControlContract.ReadAsync(stream, cts.Token).GetAwaiter().GetResult()
                ?? throw new IOException("the daemon closed the connection without a hello (is this user allowed on its socket?)");
            if (ControlContract.TypeOf(answer) == "failure")
            {
                throw ControlContract.DecodeError(answer["error"]) ?? new NwFilterException(ControlContract.Bad("a failure without an error"));
            }
            if (ControlContract.TypeOf(answer) != "hello")
            {
                throw new NwFilterException(ControlContract.Bad($"the daemon answered a hello with '{ControlContract.TypeOf(answer)}'"));
            }
            // A request may run long (a confirmation waits for the user): no timeout past the hello.
            socket.ReceiveTimeout = 0;
            socket.SendTimeout = 0;
            return new ControlClient(socket, socketPath, answer);
        }
        catch (OperationCanceledException)
        {
            socket.Dispose();
            throw new TimeoutException($"no hello from {socketPath} within {timeout.TotalSeconds:0.#} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> and carries out the daemon's calls of the host seam on <paramref name="host"/>
    /// until the response. When the daemon goes away before the response the error is <see cref="ControlContract.DaemonLost"/>.
    /// </summary>
    public async Task<TResponse> SendAsync<TResponse>(object request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        await using var closeOnCancel = cancellationToken.Register(() => _socket.Dispose()).ConfigureAwait(false);
        try
        {
            await ControlContract.WriteAsync(_stream, ControlContract.EncodeRequest(request), cancellationToken).ConfigureAwait(false);
            while (true)
            {
                var m = await ControlContract.ReadAsync(_stream, cancellationToken).ConfigureAwait(false) ?? throw Lost("closed the connection");
                switch (ControlContract.TypeOf(m))
                {
                    case "event":
                        host.Report(ControlContract.DecodeEvent(m));
                        break;
                    case "progress":
                        host.Progress(ControlContract.DecodeProgress(m));
                        break;
                    case "learner":
                        host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, "LearningInDaemon",
                            $"IP address learning for port {ControlContract.OptStr(m, "portDevice")} runs in nwfilterd (Get-NwFilterBinding shows what it learned).")
                        { Target = ControlContract.OptStr(m, "portDevice"), NetworkNamespace = ControlContract.OptStr(m, "networkNamespace") });
                        break;
                    case "confirm":
                        await AnswerAsync(m, host, cancellationToken).ConfigureAwait(false);
                        break;
                    case "response":
                        return (TResponse)ControlContract.DecodeResponse(m, request);
                    case "failure":
                        throw ControlContract.DecodeError(m["error"]) ?? new NwFilterException(ControlContract.Bad("a failure without an error"));
                    default:
                        throw new NwFilterException(ControlContract.Bad($"unexpected message '{ControlContract.TypeOf(m)}' from the daemon"));
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException && !cancellationToken.IsCancellationRequested)
        {
            throw Lost($"failed ({e.Message})");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    private async Task AnswerAsync(JsonObject confirm, IRuntimeHost host, CancellationToken cancellationToken)
    {
        string Plan()
        {
            ControlContract.WriteAsync(_stream, ControlContract.Message("plan"), cancellationToken).GetAwaiter().GetResult();
            var p = ControlContract.ReadAsync(_stream, cancellationToken).GetAwaiter().GetResult() ?? throw Lost("closed the connection");
            if (ControlContract.TypeOf(p) != "plan")
            {
                throw new NwFilterException(ControlContract.Bad($"the daemon answered a plan request with '{ControlContract.TypeOf(p)}'"));
            }
            return ControlContract.DecodeError(p["error"]) is { } error ? throw error : ControlContract.Str(p, "text", "plan");
        }
        var answer = ControlContract.Message("answer");
        try
        {
            answer["yes"] = host.Confirm(ControlContract.DecodeConfirm(confirm, Plan));
        }
        catch (NwFilterException e) when (e.Primary.Code is not (ControlContract.DaemonLost or ControlContract.BadMessage))
        {
            answer["yes"] = false;
            answer["error"] = ControlContract.EncodeError(e);
        }
        await ControlContract.WriteAsync(_stream, answer, cancellationToken).ConfigureAwait(false);
    }

    private NwFilterException Lost(string how) => new(Diagnostic.Error(ControlContract.DaemonLost,
        $"nwfilterd ({SocketPath}) {how} before it answered. Its changes are all or nothing (one store transaction, one firewall transaction per request) and a restarted nwfilterd restores the stored bindings: see what holds now with Get-NwFilterBinding and Test-NwFilterBinding, then run the command again.",
        DiagnosticCategory.ResourceUnavailable));

    /// <inheritdoc/>
    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
