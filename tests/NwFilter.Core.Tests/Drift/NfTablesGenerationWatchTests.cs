using System.Buffers.Binary;
using System.Text;
using NwFilter.Core.Backends.Nftables.Kernel;

namespace NwFilter.Core.Tests.Drift;

/// <summary>The NEWGEN messages of a netlink datagram: other processes' generations are changes, ours and other messages are not.</summary>
public sealed class NfTablesGenerationWatchTests
{
    private static byte[] Message(ushort type, params (ushort Type, byte[] Value)[] attributes)
    {
        var body = new List<byte>(new byte[4]); // nfgenmsg
        foreach (var (t, v) in attributes)
        {
            var header = new byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)(4 + v.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), t);
            body.AddRange(header);
            body.AddRange(v);
            while (body.Count % 4 != 0)
            {
                body.Add(0);
            }
        }
        var message = new byte[16 + body.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)message.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), type);
        body.CopyTo(message, 16);
        return message;
    }

    private static byte[] Be(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return b;
    }

    private static byte[] NewGen(uint generation, uint pid, string name) =>
        Message((10 << 8) | 15, (1, Be(generation)), (2, Be(pid)), (3, Encoding.UTF8.GetBytes(name + "\0")));

    [Fact]
    public void EachOtherProcesssGenerationIsOneChangeAndNothingElseIs()
    {
        var newRule = Message((10 << 8) | 6, (1, Encoding.UTF8.GetBytes("nwfilter\0")));
        var datagram = newRule.Concat(NewGen(7, 4711, "nft")).Concat(newRule).Concat(NewGen(8, 42, "pwsh")).Concat(NewGen(9, 99, "iptables")).ToArray();
        Assert.Equal(["new generation 7 by process 4711 (nft)", "new generation 9 by process 99 (iptables)"],
            NfTablesGenerationWatch.Generations(datagram, ownPid: 42));
    }

    [Fact]
    public void ATruncatedDatagramEndsTheParseWithoutAnError()
    {
        var message = NewGen(7, 4711, "nft");
        Assert.Empty(NfTablesGenerationWatch.Generations(message.AsSpan(0, message.Length - 8), 1));
        Assert.Empty(NfTablesGenerationWatch.Generations(new byte[3], 1));
    }
}
