using System.Net.Sockets;
using System.Text.Json.Nodes;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;
using NwFilter.Core.Runtime.Control;

namespace NwFilter.Daemon.Server;

/// <summary>
/// nwfilterd's control socket (docs/design/runtime.md, "Doors"): the module's cmdlets and the DSC/Ansible clients
/// send the runtime's change requests here, so that one process holds the state (the learners, the held nftables
/// context) however a change arrives. The socket is bound as the libvirt one (0600 root, or 0660 with the group) and
/// each peer is checked with <see cref="PeerCredentials"/>. Every message is hostile input: frames are bounded, the
/// hello must come within <see cref="HelloTimeout"/>, each field is checked, and a refused request changes nothing.
/// </summary>
internal sealed class ControlServer(NwFilterRuntime runtime, DaemonLog log, SemaphoreSlim changes, uint? group, string server)
{
    /// <summary>How long a client may take to send its hello and its request.</summary>
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a confirmation may wait for its answer (a person may be asked).</summary>
    public TimeSpan AnswerTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The largest frame a client may send.</summary>
    public int MaxFrame { get; init; } = ControlContract.MaxFrame;

    /// <summary>The most connections open at once.</summary>
    public int MaxConnections { get; init; } = 256;

    private long _nextId;
    private int _open;

    /// <summary>Accepts on <paramref name="listener"/> until <paramref name="stop"/>; returns when every connection of it ended.</summary>
    public Task RunAsync(Listener listener, CancellationToken stop) =>
        listener.AcceptAsync(ServeAsync, line => log.Line("control: " + line), stop);

    /// <summary>One connection: peer check, hello, one request. Never throws.</summary>
    private async Task ServeAsync(Socket client)
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
                    log.Line($"control {id} refused: its peer credentials cannot be read ({e.Message})");
                    return;
                }
                if (!peer.IsAllowed(group))
                {
                    log.Line($"control {id} refused: {peer} is not root{(group is null ? "" : " nor in group " + group)}");
                    return;
                }
                if (open > MaxConnections)
                {
                    log.Line($"control {id} refused: {MaxConnections} control connections are open already");
                    return;
                }
                await using var stream = new NetworkStream(client, ownsSocket: false);
                await ServeAsync(stream, $"control {id} ({peer})").ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            log.Line($"control {id} failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>The exchange over any stream (tests use pipes).</summary>
    internal async Task ServeAsync(Stream stream, string who)
    {
        JsonObject? request;
        using (var first = new CancellationTokenSource(HelloTimeout))
        {
            try
            {
                var hello = await ControlContract.ReadAsync(stream, first.Token, MaxFrame).ConfigureAwait(false);
                if (hello is null)
                {
                    return;
                }
                if (ControlContract.TypeOf(hello) != "hello" || hello["version"]?.GetValueKind() != System.Text.Json.JsonValueKind.Number || (int)hello["version"]! != ControlContract.Version)
                {
                    await FailAsync(stream, ControlContract.Bad($"the first message is a hello of version {ControlContract.Version}"), who).ConfigureAwait(false);
                    return;
                }
                var answer = ControlContract.Message("hello");
                answer["version"] = ControlContract.Version;
                answer["server"] = server;
                answer["configDirectory"] = runtime.Location.ConfigDirectory;
                answer["stateDirectory"] = runtime.Location.StateDirectory;
                await ControlContract.WriteAsync(stream, answer, first.Token).ConfigureAwait(false);
                request = await ControlContract.ReadAsync(stream, first.Token, MaxFrame).ConfigureAwait(false);
            }
            catch (NwFilterException e)
            {
                log.Line($"{who} closed: {e.Message}");
                return;
            }
            catch (OperationCanceledException)
            {
                log.Line($"{who} closed: nothing within {HelloTimeout.TotalSeconds:0} s");
                return;
            }
        }
        if (request is null)
        {
            return; // a probe: hello only
        }
        object decoded;
        try
        {
            if (ControlContract.TypeOf(request) != "request")
            {
                throw new NwFilterException(ControlContract.Bad($"expected a request, not '{ControlContract.TypeOf(request)}'"));
            }
            decoded = ControlContract.DecodeRequest(request);
        }
        catch (NwFilterException e)
        {
            await FailAsync(stream, e, who).ConfigureAwait(false);
            return;
        }
        var host = new ControlHost(stream, log, AnswerTimeout, MaxFrame);
        if (decoded is BindingStatusRequest statusRead)
        {
            // A read (Get-NwFilterBinding: what this daemon's learners know): no change, so not under the change lock
            // and not logged; the store's files are read under the store's own locks.
            BindingStatusResponse status;
            try
            {
                status = await runtime.HandleAsync(statusRead, SilentRuntimeHost.Instance, CancellationToken.None).ConfigureAwait(false);
            }
            catch (NwFilterException e)
            {
                await FailAsync(stream, e, who).ConfigureAwait(false);
                return;
            }
            await RespondAsync(host, status, who).ConfigureAwait(false);
            return;
        }
        log.Line($"{who}: {decoded.GetType().Name.Replace("Request", "", StringComparison.Ordinal)}{(decoded is StateResourceRequest sr ? $" {sr.Resource} {sr.Operation}{(sr.WhatIf ? " -WhatIf" : "")}" : "")}");
        // Changes run one at a time with libvirt's (the same lock) and to their end even when the client goes away;
        // a DSC/Ansible get or test (and a what-if set) only reads, so it does not wait for them.
        var locks = decoded is not StateResourceRequest read || StateResources.Changes(read);
        if (locks)
        {
            await changes.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        object response;
        try
        {
            response = decoded switch
            {
                DefineFiltersRequest d => await runtime.HandleAsync(d, host, CancellationToken.None).ConfigureAwait(false),
                UndefineFilterRequest u => await runtime.HandleAsync(u, host, CancellationToken.None).ConfigureAwait(false),
                ApplyBindingsRequest a => await runtime.HandleAsync(a, host, CancellationToken.None).ConfigureAwait(false),
                RemoveBindingsRequest r => await runtime.HandleAsync(r, host, CancellationToken.None).ConfigureAwait(false),
                RestoreBindingsRequest r => await runtime.HandleAsync(r, host, CancellationToken.None).ConfigureAwait(false),
                StateResourceRequest s => await StateResources.RunAsync(runtime, s, CancellationToken.None).ConfigureAwait(false),
                _ => throw new InvalidOperationException(decoded.GetType().Name),
            };
        }
        catch (NwFilterException e)
        {
            await FailAsync(stream, e, who).ConfigureAwait(false);
            return;
        }
        finally
        {
            if (locks)
            {
                changes.Release();
            }
        }
        await RespondAsync(host, response, who).ConfigureAwait(false);
    }

    private async Task RespondAsync(ControlHost host, object response, string who)
    {
        try
        {
            await host.SendAsync(ControlContract.EncodeResponse(response)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            log.Line($"{who}: the client left before the response{(response is BindingStatusResponse ? "" : " (the change was made)")}");
        }
    }

    private async Task FailAsync(Stream stream, NwFilterException error, string who)
    {
        log.Line($"{who} refused: {error.Primary.Code}: {error.Message}");
        var m = ControlContract.Message("failure");
        m["error"] = ControlContract.EncodeError(error);
        try
        {
            using var cts = new CancellationTokenSource(HelloTimeout);
            await ControlContract.WriteAsync(stream, m, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
        }
    }

    private Task FailAsync(Stream stream, Diagnostic diagnostic, string who) => FailAsync(stream, new NwFilterException(diagnostic), who);

    /// <summary>
    /// The runtime's host for one control request: every call is logged as the daemon logs it and streamed to the
    /// client; a confirmation waits for the client's answer (no answer, a closed connection: no).
    /// </summary>
    private sealed class ControlHost(Stream stream, DaemonLog log, TimeSpan answerTimeout, int maxFrame) : IRuntimeHost
    {
        private readonly object _gate = new();
        private bool _gone;

        public Task SendAsync(JsonObject message)
        {
            lock (_gate)
            {
                if (_gone)
                {
                    throw new IOException("the client is gone");
                }
                try
                {
                    ControlContract.WriteAsync(stream, message, CancellationToken.None).GetAwaiter().GetResult();
                }
                catch
                {
                    _gone = true;
                    throw;
                }
            }
            return Task.CompletedTask;
        }

        private void TrySend(JsonObject message)
        {
            try
            {
                SendAsync(message);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or NwFilterException)
            {
            }
        }

        public void Report(RuntimeEvent runtimeEvent)
        {
            log.Report(runtimeEvent);
            TrySend(ControlContract.EncodeEvent(runtimeEvent));
        }

        public void Progress(RuntimeProgress progress)
        {
            log.Progress(progress);
            TrySend(ControlContract.EncodeProgress(progress));
        }

        public void LearnerStarted(LearnerStarted started)
        {
            log.LearnerStarted(started);
            var m = ControlContract.Message("learner");
            m["portDevice"] = started.PortDevice;
            m["networkNamespace"] = started.NetworkNamespace;
            TrySend(m);
        }

        public bool Confirm(ConfirmationRequest request)
        {
            lock (_gate)
            {
                if (_gone)
                {
                    return false;
                }
                try
                {
                    using var cts = new CancellationTokenSource(answerTimeout);
                    ControlContract.WriteAsync(stream, ControlContract.EncodeConfirm(request), cts.Token).GetAwaiter().GetResult();
                    while (true)
                    {
                        var m = ControlContract.ReadAsync(stream, cts.Token, maxFrame).GetAwaiter().GetResult();
                        if (m is null)
                        {
                            _gone = true;
                            return false;
                        }
                        switch (ControlContract.TypeOf(m))
                        {
                            case "plan":
                                var plan = ControlContract.Message("plan");
                                try
                                {
                                    plan["text"] = request.Plan?.Invoke() ?? "";
                                }
                                catch (NwFilterException e)
                                {
                                    plan["error"] = ControlContract.EncodeError(e);
                                }
                                ControlContract.WriteAsync(stream, plan, cts.Token).GetAwaiter().GetResult();
                                break;
                            case "answer":
                                if (ControlContract.DecodeError(m["error"]) is { } error)
                                {
                                    throw error; // the host could not decide (its plan failed): the item fails with that error
                                }
                                return m["yes"] is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.True;
                            default:
                                throw new NwFilterException(ControlContract.Bad($"expected an answer or a plan request, not '{ControlContract.TypeOf(m)}'"));
                        }
                    }
                }
                catch (NwFilterException e) when (e.Primary.Code == ControlContract.BadMessage)
                {
                    log.Line($"control: confirmation of '{request.Action}' refused: {e.Message}");
                    _gone = true;
                    return false;
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
                {
                    log.Line($"control: no answer for '{request.Action}' ({e.GetType().Name}): not done");
                    _gone = true;
                    return false;
                }
            }
        }
    }
}
