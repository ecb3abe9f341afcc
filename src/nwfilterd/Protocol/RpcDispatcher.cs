namespace NwFilter.Daemon.Protocol;

/// <summary>One call as a procedure sees it: the header, the XDR arguments and the connection it came on.</summary>
internal sealed record RpcCall<TConnection>(RpcHeader Header, ReadOnlyMemory<byte> Arguments, TConnection Connection);

/// <summary>
/// A procedure: decodes its arguments (bounded, <see cref="XdrReader"/>), does its work and returns the reply body
/// (null: an empty body). It refuses with <see cref="RpcErrorException"/>; an <see cref="XdrException"/> becomes an
/// RPC error, anything else an internal error. Nothing a procedure throws leaves the dispatcher.
/// </summary>
internal delegate ValueTask<XdrWriter?> RpcProcedure<TConnection>(RpcCall<TConnection> call, CancellationToken cancellationToken);

/// <summary>
/// Routes calls by program, version and procedure to procedures, and turns every failure into the error reply
/// libvirt's daemon would send. Pure: no sockets; the server feeds it frames and writes what it returns.
/// </summary>
internal sealed class RpcDispatcher<TConnection>
{
    private readonly Dictionary<int, RpcProcedure<TConnection>> _procedures = [];

    /// <summary>Called for an exception a procedure should not have thrown (logged by the host).</summary>
    public Action<RpcHeader, Exception>? OnFault { get; init; }

    /// <summary>Adds the procedure of the REMOTE program with number <paramref name="procedure"/>.</summary>
    public RpcDispatcher<TConnection> Add(int procedure, RpcProcedure<TConnection> handler)
    {
        _procedures.Add(procedure, handler);
        return this;
    }

    /// <summary>The procedure numbers served.</summary>
    public IReadOnlyCollection<int> Procedures => _procedures.Keys;

    /// <summary>The reply to <paramref name="message"/>, or null when none is due (keepalive PONG, non-call messages).</summary>
    public async ValueTask<RpcMessage?> DispatchAsync(RpcMessage message, TConnection connection, CancellationToken cancellationToken)
    {
        var h = message.Header;
        if (h.Program == Rpc.KeepAliveProgram)
        {
            // PING gets PONG, both of type MESSAGE with no body; anything else on this program is ignored, as libvirt does.
            return h.Procedure == Rpc.KeepAlivePing && h.Type == MessageType.Message
                ? new RpcMessage(new RpcHeader(Rpc.KeepAliveProgram, Rpc.ProgramVersion, Rpc.KeepAlivePong, MessageType.Message, 0, MessageStatus.Ok), ReadOnlyMemory<byte>.Empty)
                : null;
        }
        if (h.Type != MessageType.Call && h.Type != MessageType.CallWithFds)
        {
            return null; // replies, events and stream data: nothing for a server to answer
        }
        if (h.Program != Rpc.RemoteProgram)
        {
            return Error(h, RpcError.Of(ErrorCode.NoSupport, ErrorDomain.Rpc, $"unknown program 0x{h.Program:x}"));
        }
        if (h.Version != Rpc.ProgramVersion)
        {
            return Error(h, RpcError.Of(ErrorCode.Rpc, ErrorDomain.Rpc, $"program 0x{h.Program:x} has no version {h.Version}"));
        }
        if (h.Type == MessageType.CallWithFds)
        {
            return Error(h, RpcError.Of(ErrorCode.NoSupport, ErrorDomain.Rpc, $"procedure {h.Procedure} does not take file descriptors"));
        }
        if (h.Status != MessageStatus.Ok)
        {
            return Error(h, RpcError.Of(ErrorCode.Rpc, ErrorDomain.Rpc, $"a call has status {(int)h.Status}, not OK"));
        }
        if (!_procedures.TryGetValue(h.Procedure, out var procedure))
        {
            return Error(h, RpcError.Of(ErrorCode.NoSupport, ErrorDomain.Rpc, $"unknown procedure: {h.Procedure}"));
        }
        try
        {
            var body = await procedure(new RpcCall<TConnection>(h, message.Body, connection), cancellationToken).ConfigureAwait(false);
            return new RpcMessage(h.ReplyHeader(MessageStatus.Ok), body is null ? ReadOnlyMemory<byte>.Empty : body.ToArray());
        }
        catch (RpcErrorException e)
        {
            return Error(h, e.Error);
        }
        catch (XdrException e)
        {
            return Error(h, RpcError.Of(ErrorCode.Rpc, ErrorDomain.Rpc, $"Unable to decode message payload: {e.Message}"));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            OnFault?.Invoke(h, e);
            return Error(h, RpcError.Of(ErrorCode.InternalError, ErrorDomain.Remote, $"procedure {h.Procedure} failed: {e.Message}"));
        }
    }

    /// <summary>The error reply to a call.</summary>
    public static RpcMessage Error(RpcHeader call, RpcError error)
    {
        var w = new XdrWriter(128 + error.Message.Length);
        error.Write(w);
        return new RpcMessage(call.ReplyHeader(MessageStatus.Error), w.ToArray());
    }
}
