using System.Buffers.Binary;

namespace NwFilter.Daemon.Protocol;

/// <summary>The numbers of libvirt's RPC that nwfilterd uses (libvirt's virnetprotocol.x and remote_protocol.x).</summary>
internal static class Rpc
{
    /// <summary>libvirt's REMOTE program.</summary>
    public const uint RemoteProgram = 0x20008086;
    /// <summary>The keepalive program ("keep").</summary>
    public const uint KeepAliveProgram = 0x6b656570;
    /// <summary>The only version of both programs.</summary>
    public const uint ProgramVersion = 1;

    /// <summary>Keepalive PING (answered with PONG).</summary>
    public const int KeepAlivePing = 1;
    /// <summary>Keepalive PONG.</summary>
    public const int KeepAlivePong = 2;

    /// <summary>The length word and the header: 4 + 6 x 4 bytes.</summary>
    public const int HeaderSize = 28;
    /// <summary>The largest message nwfilterd reads (libvirt allows 32 MiB; a filter document here is bounded far lower).</summary>
    public const int MaxMessageSize = 4 * 1024 * 1024;
    /// <summary>REMOTE_STRING_MAX.</summary>
    public const int MaxString = 4 * 1024 * 1024;
    /// <summary>REMOTE_NWFILTER_LIST_MAX (names returned by CONNECT_LIST_NWFILTERS).</summary>
    public const int MaxNwFilterNames = 16384;
    /// <summary>REMOTE_CONNECT_IDENTITY_PARAMS_MAX.</summary>
    public const int MaxIdentityParams = 20;
    /// <summary>REMOTE_AUTH_TYPE_LIST_MAX.</summary>
    public const int MaxAuthTypes = 20;
}

/// <summary>virNetMessageType.</summary>
internal enum MessageType
{
    Call = 0,
    Reply = 1,
    Message = 2,
    Stream = 3,
    CallWithFds = 4,
    ReplyWithFds = 5,
    StreamHole = 6,
}

/// <summary>virNetMessageStatus.</summary>
internal enum MessageStatus
{
    Ok = 0,
    Error = 1,
    Continue = 2,
}

/// <summary>The header of one message.</summary>
internal readonly record struct RpcHeader(uint Program, uint Version, int Procedure, MessageType Type, uint Serial, MessageStatus Status)
{
    /// <summary>The header's six words, after the length word.</summary>
    public static RpcHeader Read(ReadOnlySpan<byte> header) => new(
        BinaryPrimitives.ReadUInt32BigEndian(header),
        BinaryPrimitives.ReadUInt32BigEndian(header[4..]),
        BinaryPrimitives.ReadInt32BigEndian(header[8..]),
        (MessageType)BinaryPrimitives.ReadInt32BigEndian(header[12..]),
        BinaryPrimitives.ReadUInt32BigEndian(header[16..]),
        (MessageStatus)BinaryPrimitives.ReadInt32BigEndian(header[20..]));

    /// <summary>The header of the reply to this call.</summary>
    public RpcHeader ReplyHeader(MessageStatus status) => this with { Type = MessageType.Reply, Status = status };

    public override string ToString() => $"prog 0x{Program:x} vers {Version} proc {Procedure} type {(int)Type} serial {Serial} status {(int)Status}";
}

/// <summary>One framed message: its header and its body (the XDR after the header).</summary>
internal sealed record RpcMessage(RpcHeader Header, ReadOnlyMemory<byte> Body)
{
    /// <summary>The whole frame (length word, header, body), as it goes on the wire.</summary>
    public byte[] Encode()
    {
        var w = new XdrWriter(Rpc.HeaderSize + Body.Length);
        w.WriteUInt32((uint)(Rpc.HeaderSize + Body.Length))
         .WriteUInt32(Header.Program).WriteUInt32(Header.Version).WriteInt32(Header.Procedure)
         .WriteInt32((int)Header.Type).WriteUInt32(Header.Serial).WriteInt32((int)Header.Status)
         .WriteRaw(Body.Span);
        return w.ToArray();
    }

    /// <summary>Decodes one whole frame (the length word included), refusing a length that disagrees with the bytes.</summary>
    public static RpcMessage Decode(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Rpc.HeaderSize)
        {
            throw new FrameException($"a message of {frame.Length} bytes is shorter than the {Rpc.HeaderSize}-byte header");
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(frame);
        if (length != frame.Length)
        {
            throw new FrameException($"the length word says {length} bytes, the frame has {frame.Length}");
        }
        return new RpcMessage(RpcHeader.Read(frame[4..]), frame[Rpc.HeaderSize..].ToArray());
    }
}

/// <summary>A frame that cannot be read: the connection cannot be trusted to stay in step and is closed.</summary>
internal sealed class FrameException(string message) : Exception(message);

/// <summary>
/// Reads frames from a stream: the 4-byte big-endian length (which counts itself), then exactly that many bytes. A
/// length under the header size or over <see cref="Rpc.MaxMessageSize"/> is refused before anything is allocated.
/// Between frames a connection may be idle as long as it likes (libvirt's clients are); once a frame's first byte has
/// come, the whole frame must follow within <paramref name="frameTimeout"/> (null: no limit), so a client that
/// trickles a frame (a slow-loris) is closed instead of holding its connection slot.
/// </summary>
internal sealed class FrameReader(Stream stream, int maxMessageSize = Rpc.MaxMessageSize, TimeSpan? frameTimeout = null)
{
    private readonly byte[] _lengthWord = new byte[4];

    /// <summary>The next frame, or null at a clean end of stream (between two frames).</summary>
    /// <exception cref="FrameException">A bad length, the stream ended inside a frame, or the frame was not complete in time.</exception>
    public async ValueTask<RpcMessage?> ReadAsync(CancellationToken cancellationToken)
    {
        var first = await stream.ReadAsync(_lengthWord.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        if (first == 0)
        {
            return null;
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (frameTimeout is { } limit)
        {
            deadline.CancelAfter(limit);
        }
        try
        {
            return await ReadRestAsync(first, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new FrameException($"a message was not complete {frameTimeout!.Value.TotalSeconds:0.#} s after its first byte came");
        }
    }

    private async ValueTask<RpcMessage?> ReadRestAsync(int first, CancellationToken cancellationToken)
    {
        var got = first + await FillAsync(_lengthWord.AsMemory(first), cancellationToken).ConfigureAwait(false);
        if (got < 4)
        {
            throw new FrameException("the connection closed inside a length word");
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(_lengthWord);
        if (length < Rpc.HeaderSize)
        {
            throw new FrameException($"a message length of {length} is shorter than the {Rpc.HeaderSize}-byte header");
        }
        if (length > maxMessageSize)
        {
            throw new FrameException($"a message length of {length} is over the limit of {maxMessageSize} bytes");
        }
        var frame = new byte[length];
        _lengthWord.CopyTo(frame, 0);
        if (await FillAsync(frame.AsMemory(4), cancellationToken).ConfigureAwait(false) < length - 4)
        {
            throw new FrameException($"the connection closed inside a message of {length} bytes");
        }
        return new RpcMessage(RpcHeader.Read(frame.AsSpan(4)), frame.AsMemory(Rpc.HeaderSize));
    }

    private async ValueTask<int> FillAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }
}
