using System.Net.Sockets;
using NwFilter.Daemon.Procedures;
using NwFilter.Daemon.Protocol;

namespace NwFilter.Daemon.Tests.TestSupport;

/// <summary>A reply as a test reads it: OK with its body, or libvirt's error triple.</summary>
internal sealed record Reply(RpcMessage Message)
{
    public bool Ok => Message.Header.Status == MessageStatus.Ok;

    public (int Code, int Domain, string? Message) Error => Protocol.RpcDispatcherTests.ErrorOf(Message);

    public XdrReader Reader()
    {
        Assert.True(Ok, Ok ? "" : $"expected OK, got {Error}");
        return new XdrReader(Message.Body.Span);
    }
}

/// <summary>Argument bodies of the procedures, as libvirt's client encodes them.</summary>
internal static class Args
{
    public static byte[] Open(string? uri = NwFilterProcedures.SystemUri, uint flags = 0) => new XdrWriter().WriteOptionalString(uri).WriteUInt32(flags).ToArray();

    public static byte[] String(string s) => new XdrWriter().WriteString(s).ToArray();

    public static byte[] StringFlags(string s, uint flags) => new XdrWriter().WriteString(s).WriteUInt32(flags).ToArray();

    public static byte[] Int(int v) => new XdrWriter().WriteInt32(v).ToArray();

    public static byte[] ListAll(int needResults = 1, uint flags = 0) => new XdrWriter().WriteInt32(needResults).WriteUInt32(flags).ToArray();

    public static byte[] Filter(string name, Guid uuid, uint? flags = null)
    {
        var w = new XdrWriter().WriteString(name);
        Span<byte> b = stackalloc byte[16];
        NwFilterProcedures.WriteUuid(uuid, b);
        w.WriteFixedOpaque(b);
        if (flags is { } f)
        {
            w.WriteUInt32(f);
        }
        return w.ToArray();
    }

    public static byte[] Uuid(Guid uuid)
    {
        Span<byte> b = stackalloc byte[16];
        NwFilterProcedures.WriteUuid(uuid, b);
        return new XdrWriter().WriteFixedOpaque(b).ToArray();
    }

    public static byte[] Binding(string port, string filter, uint? flags = null)
    {
        var w = new XdrWriter().WriteString(port).WriteString(filter);
        if (flags is { } f)
        {
            w.WriteUInt32(f);
        }
        return w.ToArray();
    }

    public static (string Name, Guid Uuid) ReadFilter(Reply reply)
    {
        var r = reply.Reader();
        return ReadFilter(ref r);
    }

    public static (string Name, Guid Uuid) ReadFilter(ref XdrReader r)
    {
        var name = r.ReadString(1024);
        return (name, NwFilterProcedures.ReadUuid(ref r));
    }
}

/// <summary>Calls procedures in-process through a dispatcher, on one connection's state.</summary>
internal sealed class InProcessClient(RpcDispatcher<ConnectionState> dispatcher, bool readOnlySocket = false)
{
    private uint _serial;

    public ConnectionState State { get; } = new(1, "test", readOnlySocket);

    public async Task<Reply> CallAsync(int procedure, byte[]? body = null)
    {
        var reply = await dispatcher.DispatchAsync(new RpcMessage(new RpcHeader(Rpc.RemoteProgram, 1, procedure, MessageType.Call, ++_serial, MessageStatus.Ok), body ?? []), State, default);
        Assert.NotNull(reply);
        Assert.Equal(_serial, reply.Header.Serial);
        return new Reply(reply);
    }

    public async Task<InProcessClient> OpenAsync(uint flags = 0)
    {
        Assert.True((await CallAsync(NwFilterProcedures.ConnectOpen, Args.Open(flags: flags))).Ok);
        return this;
    }
}

/// <summary>A client on a Unix socket, speaking the frames itself (the fuzz and concurrency tests, the bench).</summary>
internal sealed class SocketClient : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly FrameReader _reader;
    private uint _serial;

    public SocketClient(string path)
    {
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Connect(new UnixDomainSocketEndPoint(path));
        _stream = new NetworkStream(_socket, ownsSocket: true);
        _reader = new FrameReader(_stream);
    }

    public async Task SendRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>The next frame from the server, or null when it closed the connection.</summary>
    public async Task<RpcMessage?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            return await _reader.ReadAsync(cts.Token);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public async Task<Reply> CallAsync(int procedure, byte[]? body = null)
    {
        var serial = ++_serial;
        await SendRawAsync(new RpcMessage(new RpcHeader(Rpc.RemoteProgram, 1, procedure, MessageType.Call, serial, MessageStatus.Ok), body ?? []).Encode());
        var reply = await ReceiveAsync() ?? throw new IOException("the server closed the connection");
        Assert.Equal(serial, reply.Header.Serial);
        return new Reply(reply);
    }

    /// <summary>What libvirt's client sends first: AUTH_LIST, the keepalive feature, CONNECT_OPEN.</summary>
    public async Task<SocketClient> HandshakeAsync()
    {
        Assert.True((await CallAsync(NwFilterProcedures.AuthList)).Ok);
        Assert.True((await CallAsync(NwFilterProcedures.ConnectSupportsFeature, Args.Int(10))).Ok);
        var open = await CallAsync(NwFilterProcedures.ConnectOpen, Args.Open());
        Assert.True(open.Ok, open.Ok ? "" : open.Error.ToString());
        return this;
    }

    public void Dispose() => _stream.Dispose();
}
