using NwFilter.Daemon.Protocol;

namespace NwFilter.Daemon.Tests.Protocol;

public sealed class XdrTests
{
    [Fact]
    public void ValuesRoundTripInXdrLayout()
    {
        var w = new XdrWriter().WriteInt32(-2).WriteUInt32(0x20008086).WriteUInt64(9_000_000).WriteString("vnet0")
            .WriteOptionalString(null).WriteOptionalString("nwfilter:///system").WriteFixedOpaque([1, 2, 3]);
        var bytes = w.ToArray();
        // "vnet0" is 4 bytes of length, 5 of text and 3 of padding.
        Assert.Equal([0, 0, 0, 5, (byte)'v', (byte)'n', (byte)'e', (byte)'t', (byte)'0', 0, 0, 0], bytes[16..28]);
        var r = new XdrReader(bytes);
        Assert.Equal(-2, r.ReadInt32());
        Assert.Equal(0x20008086u, r.ReadUInt32());
        Assert.Equal(9_000_000ul, r.ReadUInt64());
        Assert.Equal("vnet0", r.ReadString(64));
        Assert.Null(r.ReadOptionalString(64));
        Assert.Equal("nwfilter:///system", r.ReadOptionalString(64));
        Assert.Equal([1, 2, 3], r.ReadFixedOpaque(3).ToArray());
        r.End();
    }

    [Fact]
    public void StringLongerThanItsLimitIsRefusedBeforeReading()
    {
        var bytes = new XdrWriter().WriteString(new string('a', 100)).ToArray();
        var e = Assert.Throws<XdrException>(() => new XdrReader(bytes).ReadString(99));
        Assert.Contains("100 bytes is longer than the limit of 99", e.Message);
    }

    [Fact]
    public void HostileLengthPastTheEndIsRefused()
    {
        // A length word of 0x7fffffff with 4 bytes behind it: refused, nothing allocated for it.
        byte[] bytes = [0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4];
        var e = Assert.Throws<XdrException>(() => new XdrReader(bytes).ReadString(int.MaxValue));
        Assert.Contains("runs past the end", e.Message);
    }

    [Fact]
    public void ArrayCountIsBoundedByLimitAndByTheBytesLeft()
    {
        var tooMany = new XdrWriter().WriteUInt32(21).ToArray();
        Assert.Contains("limit of 20", Assert.Throws<XdrException>(() => new XdrReader(tooMany).ReadArrayCount(20)).Message);
        var notThere = new XdrWriter().WriteUInt32(10).WriteUInt32(0).ToArray();
        Assert.Contains("does not fit", Assert.Throws<XdrException>(() => new XdrReader(notThere).ReadArrayCount(100)).Message);
    }

    [Fact]
    public void TruncatedIntegerIsRefused()
    {
        Assert.Throws<XdrException>(() => new XdrReader(new byte[3]).ReadInt32());
        Assert.Throws<XdrException>(() => new XdrReader(new byte[7]).ReadUInt64());
    }

    [Fact]
    public void NonZeroPaddingNulAndBadUtf8AreRefused()
    {
        Assert.Contains("padding", Assert.Throws<XdrException>(() => new XdrReader(new byte[] { 0, 0, 0, 1, (byte)'a', 9, 0, 0 }).ReadString(10)).Message);
        Assert.Contains("NUL", Assert.Throws<XdrException>(() => new XdrReader(new byte[] { 0, 0, 0, 2, (byte)'a', 0, 0, 0 }).ReadString(10)).Message);
        Assert.Contains("UTF-8", Assert.Throws<XdrException>(() => new XdrReader(new byte[] { 0, 0, 0, 1, 0xff, 0, 0, 0 }).ReadString(10)).Message);
    }

    [Fact]
    public void BooleanOtherThanZeroOrOneIsRefused()
    {
        Assert.Contains("0 or 1", Assert.Throws<XdrException>(() => new XdrReader(new byte[] { 0, 0, 0, 2 }).ReadBool()).Message);
    }

    [Fact]
    public void BytesLeftAfterTheArgumentsAreRefused()
    {
        Assert.Contains("4 bytes after the end", Assert.Throws<XdrException>(() => new XdrReader(new byte[4]).End()).Message);
    }
}
