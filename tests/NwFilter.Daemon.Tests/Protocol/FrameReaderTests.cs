using System.Buffers.Binary;
using NwFilter.Daemon.Protocol;

namespace NwFilter.Daemon.Tests.Protocol;

public sealed class FrameReaderTests
{
    private static byte[] Frame(int procedure, uint serial, byte[] body) =>
        new RpcMessage(new RpcHeader(Rpc.RemoteProgram, 1, procedure, MessageType.Call, serial, MessageStatus.Ok), body).Encode();

    [Fact]
    public async Task ReadsBackToBackFramesThenNullAtCleanEnd()
    {
        var stream = new MemoryStream([.. Frame(66, 1, []), .. Frame(1, 2, [0, 0, 0, 0, 0, 0, 0, 0])]);
        var reader = new FrameReader(stream);
        var first = await reader.ReadAsync(default);
        var second = await reader.ReadAsync(default);
        Assert.Equal((66, 1u, 0), (first!.Header.Procedure, first.Header.Serial, first.Body.Length));
        Assert.Equal((1, 2u, 8), (second!.Header.Procedure, second.Header.Serial, second.Body.Length));
        Assert.Null(await reader.ReadAsync(default));
    }

    [Fact]
    public async Task LengthIncludesItselfOnTheWire()
    {
        var frame = Frame(66, 7, [1, 2, 3, 4]);
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32BigEndian(frame));
        Assert.Equal(32, frame.Length);
        var message = await new FrameReader(new MemoryStream(frame)).ReadAsync(default);
        Assert.Equal([1, 2, 3, 4], message!.Body.ToArray());
    }

    [Theory]
    [InlineData(0u, "shorter than the 28-byte header")]
    [InlineData(27u, "shorter than the 28-byte header")]
    [InlineData(0xffffffffu, "over the limit")]
    [InlineData(Rpc.MaxMessageSize + 1u, "over the limit")]
    public async Task BadLengthWordIsRefusedBeforeAnythingIsRead(uint length, string reason)
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, length);
        var e = await Assert.ThrowsAsync<FrameException>(() => new FrameReader(new MemoryStream(bytes)).ReadAsync(default).AsTask());
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public async Task StreamEndingInsideAFrameIsRefused()
    {
        var frame = Frame(175, 3, new byte[40]);
        var e = await Assert.ThrowsAsync<FrameException>(() => new FrameReader(new MemoryStream(frame[..50])).ReadAsync(default).AsTask());
        Assert.Contains("closed inside a message of 68 bytes", e.Message);
        var e2 = await Assert.ThrowsAsync<FrameException>(() => new FrameReader(new MemoryStream(frame[..2])).ReadAsync(default).AsTask());
        Assert.Contains("inside a length word", e2.Message);
    }

    [Fact]
    public void DecodeRefusesAFrameWhoseLengthWordDisagrees()
    {
        var frame = Frame(66, 1, new byte[8]);
        Assert.Contains("says 36 bytes, the frame has 35", Assert.Throws<FrameException>(() => RpcMessage.Decode(frame[..35])).Message);
    }
}
