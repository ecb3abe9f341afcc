using NwFilter.Daemon.Protocol;

namespace NwFilter.Daemon.Tests.Protocol;

public sealed class RpcDispatcherTests
{
    private static RpcMessage Call(int procedure, uint serial = 9, byte[]? body = null, uint program = Rpc.RemoteProgram, uint version = 1, MessageType type = MessageType.Call) =>
        new(new RpcHeader(program, version, procedure, type, serial, MessageStatus.Ok), body ?? []);

    internal static (int Code, int Domain, string? Message) ErrorOf(RpcMessage reply)
    {
        Assert.Equal(MessageStatus.Error, reply.Header.Status);
        var r = new XdrReader(reply.Body.Span);
        var code = r.ReadInt32();
        var domain = r.ReadInt32();
        var message = r.ReadOptionalString(1 << 20);
        Assert.Equal(2, r.ReadInt32()); // level: error
        Assert.Equal(0u, r.ReadUInt32()); // dom: NULL
        Assert.Null(r.ReadOptionalString(10));
        Assert.Null(r.ReadOptionalString(10));
        Assert.Null(r.ReadOptionalString(10));
        r.ReadInt32();
        r.ReadInt32();
        Assert.Equal(0u, r.ReadUInt32()); // net: NULL
        r.End();
        return (code, domain, message);
    }

    private static RpcDispatcher<string> Dispatcher() => new RpcDispatcher<string>()
        .Add(1, (c, _) => ValueTask.FromResult<XdrWriter?>(new XdrWriter().WriteString("hello " + c.Connection)))
        .Add(2, (c, _) =>
        {
            var r = new XdrReader(c.Arguments.Span);
            r.ReadString(8);
            return ValueTask.FromResult<XdrWriter?>(null);
        })
        .Add(3, (_, _) => throw new InvalidOperationException("boom"))
        .Add(4, (_, _) => throw new RpcErrorException(RpcError.Of(ErrorCode.NoNwFilter, ErrorDomain.NwFilter, "no nwfilter with matching name 'x'")));

    [Fact]
    public async Task ReplyCarriesTheCallsProgramProcedureAndSerial()
    {
        var reply = await Dispatcher().DispatchAsync(Call(1, 4242), "a", default);
        Assert.Equal(new RpcHeader(Rpc.RemoteProgram, 1, 1, MessageType.Reply, 4242, MessageStatus.Ok), reply!.Header);
        Assert.Equal("hello a", new XdrReader(reply.Body.Span).ReadString(100));
    }

    [Fact]
    public async Task UnknownProcedureIsAnsweredNoSupport()
    {
        var reply = await Dispatcher().DispatchAsync(Call(9999, 5), "a", default);
        Assert.Equal(5u, reply!.Header.Serial);
        Assert.Equal((ErrorCode.NoSupport, ErrorDomain.Rpc, "this function is not supported by the connection driver: unknown procedure: 9999"), ErrorOf(reply));
    }

    [Fact]
    public async Task UnknownProgramAndVersionAreAnsweredWithErrors()
    {
        var program = await Dispatcher().DispatchAsync(Call(1, program: 0x12345678), "a", default);
        Assert.Equal(ErrorCode.NoSupport, ErrorOf(program!).Code);
        Assert.Contains("unknown program 0x12345678", ErrorOf(program!).Message);
        var version = await Dispatcher().DispatchAsync(Call(1, version: 2), "a", default);
        Assert.Equal(ErrorCode.Rpc, ErrorOf(version!).Code);
    }

    [Fact]
    public async Task UndecodableArgumentsAreAnRpcErrorNotACrash()
    {
        var reply = await Dispatcher().DispatchAsync(Call(2, body: [0, 0, 0, 50, 1]), "a", default);
        var (code, _, message) = ErrorOf(reply!);
        Assert.Equal(ErrorCode.Rpc, code);
        Assert.StartsWith("Unable to decode message payload: a string of 50 bytes", message);
    }

    [Fact]
    public async Task ProcedureFaultBecomesAnInternalErrorAndIsReported()
    {
        Exception? seen = null;
        var d = Dispatcher();
        d = new RpcDispatcher<string> { OnFault = (_, e) => seen = e }.Add(3, (_, _) => throw new InvalidOperationException("boom"));
        var reply = await d.DispatchAsync(Call(3), "a", default);
        Assert.Equal((ErrorCode.InternalError, ErrorDomain.Remote, "internal error: procedure 3 failed: boom"), ErrorOf(reply!));
        Assert.IsType<InvalidOperationException>(seen);
    }

    [Fact]
    public async Task RefusalKeepsLibvirtsCodeDomainAndText()
    {
        var reply = await Dispatcher().DispatchAsync(Call(4), "a", default);
        Assert.Equal((62, 33, "Network filter not found: no nwfilter with matching name 'x'"), ErrorOf(reply!));
    }

    [Fact]
    public async Task KeepalivePingGetsPongAndNothingElseOnThatProgramIsAnswered()
    {
        var pong = await Dispatcher().DispatchAsync(Call(Rpc.KeepAlivePing, 0, program: Rpc.KeepAliveProgram, type: MessageType.Message), "a", default);
        Assert.Equal(new RpcHeader(Rpc.KeepAliveProgram, 1, Rpc.KeepAlivePong, MessageType.Message, 0, MessageStatus.Ok), pong!.Header);
        Assert.Equal(0, pong.Body.Length);
        Assert.Null(await Dispatcher().DispatchAsync(Call(Rpc.KeepAlivePong, 0, program: Rpc.KeepAliveProgram, type: MessageType.Message), "a", default));
    }

    [Fact]
    public async Task NonCallsAreNotAnsweredAndCallsWithFdsAreRefused()
    {
        Assert.Null(await Dispatcher().DispatchAsync(Call(1, type: MessageType.Reply), "a", default));
        Assert.Null(await Dispatcher().DispatchAsync(Call(1, type: MessageType.Stream), "a", default));
        var fds = await Dispatcher().DispatchAsync(Call(1, type: MessageType.CallWithFds), "a", default);
        Assert.Equal(ErrorCode.NoSupport, ErrorOf(fds!).Code);
    }

    [Fact]
    public async Task RandomMessagesAlwaysGetAWellFormedAnswerOrNone()
    {
        var random = new Random(1234);
        var d = Dispatcher();
        for (var i = 0; i < 5000; i++)
        {
            var body = new byte[random.Next(0, 64)];
            random.NextBytes(body);
            var header = new RpcHeader(
                random.Next(4) == 0 ? (uint)random.Next() : Rpc.RemoteProgram, (uint)random.Next(3), random.Next(-2, 8),
                (MessageType)random.Next(-1, 8), (uint)random.Next(), (MessageStatus)random.Next(-1, 4));
            var reply = await d.DispatchAsync(new RpcMessage(header, body), "a", default);
            if (reply is not null && reply.Header.Program == Rpc.RemoteProgram)
            {
                Assert.Equal(header.Serial, reply.Header.Serial);
                if (reply.Header.Status == MessageStatus.Error)
                {
                    ErrorOf(reply); // decodes fully as remote_error
                }
            }
        }
    }
}
