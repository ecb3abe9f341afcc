using System.Buffers.Binary;
using System.Text;

namespace NwFilter.Daemon.Protocol;

/// <summary>A message body that does not decode: too short, a length beyond its limit, bad padding, bad UTF-8.</summary>
internal sealed class XdrException(string message) : Exception(message);

/// <summary>
/// Reads XDR (RFC 4506) from one received message. Every read is bounded by what is left of the message, and every
/// string and array by an explicit limit, so a hostile length never allocates more than the message already holds.
/// </summary>
internal ref struct XdrReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _data.Length - _position;

    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    public double ReadDouble() => BinaryPrimitives.ReadDoubleBigEndian(Take(8));

    /// <summary>An XDR bool: 0 or 1, anything else is refused.</summary>
    public bool ReadBool() => ReadUInt32() switch
    {
        0 => false,
        1 => true,
        var v => throw new XdrException($"a boolean is 0 or 1, not {v}"),
    };

    /// <summary>A string of at most <paramref name="maxLength"/> bytes of UTF-8, padded to 4; no NUL inside.</summary>
    public string ReadString(int maxLength)
    {
        var length = ReadUInt32();
        if (length > (uint)maxLength)
        {
            throw new XdrException($"a string of {length} bytes is longer than the limit of {maxLength}");
        }
        var bytes = TakePadded((int)length);
        if (bytes.Contains((byte)0))
        {
            throw new XdrException("a string contains a NUL byte");
        }
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new XdrException("a string is not valid UTF-8");
        }
    }

    /// <summary>libvirt's remote_string: an optional string (a bool, then the string when true).</summary>
    public string? ReadOptionalString(int maxLength) => ReadBool() ? ReadString(maxLength) : null;

    /// <summary>Fixed-length opaque data (a remote_uuid is 16 bytes).</summary>
    public ReadOnlySpan<byte> ReadFixedOpaque(int length) => TakePadded(length);

    /// <summary>An array's count, at most <paramref name="maxCount"/>, and no more than the bytes left could hold.</summary>
    public int ReadArrayCount(int maxCount, int minElementSize = 4)
    {
        var count = ReadUInt32();
        if (count > (uint)maxCount)
        {
            throw new XdrException($"an array of {count} elements is longer than the limit of {maxCount}");
        }
        if ((long)count * minElementSize > Remaining)
        {
            throw new XdrException($"an array of {count} elements does not fit in the {Remaining} bytes left");
        }
        return (int)count;
    }

    /// <summary>Refuses bytes left over after the last field (libvirt's decoder would not read them either).</summary>
    public readonly void End()
    {
        if (Remaining != 0)
        {
            throw new XdrException($"{Remaining} bytes after the end of the arguments");
        }
    }

    private ReadOnlySpan<byte> TakePadded(int length)
    {
        var padded = (length + 3) & ~3;
        if (padded < length || padded > Remaining)
        {
            throw new XdrException($"a field of {length} bytes runs past the end of the message ({Remaining} bytes left)");
        }
        var value = _data.Slice(_position, length);
        foreach (var b in _data.Slice(_position + length, padded - length))
        {
            if (b != 0)
            {
                throw new XdrException("padding bytes are not zero");
            }
        }
        _position += padded;
        return value;
    }

    private ReadOnlySpan<byte> Take(int length)
    {
        if (length > Remaining)
        {
            throw new XdrException($"the message ends inside a field ({Remaining} bytes left, {length} needed)");
        }
        var value = _data.Slice(_position, length);
        _position += length;
        return value;
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}

/// <summary>Writes XDR into a growing buffer (a reply, or a call in tests and the bench).</summary>
internal sealed class XdrWriter
{
    private byte[] _buffer;
    private int _length;

    public XdrWriter(int capacity = 256) => _buffer = new byte[Math.Max(capacity, 16)];

    /// <summary>Bytes written so far.</summary>
    public int Length => _length;

    /// <summary>What was written.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public byte[] ToArray() => Written.ToArray();

    public XdrWriter WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(Grow(4), value);
        return this;
    }

    public XdrWriter WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);
        return this;
    }

    public XdrWriter WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(Grow(8), value);
        return this;
    }

    public XdrWriter WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(Grow(8), value);
        return this;
    }

    public XdrWriter WriteBool(bool value) => WriteUInt32(value ? 1u : 0u);

    public XdrWriter WriteString(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        WriteUInt32((uint)count);
        var span = Grow((count + 3) & ~3);
        span.Clear();
        Encoding.UTF8.GetBytes(value, span);
        return this;
    }

    /// <summary>libvirt's remote_string.</summary>
    public XdrWriter WriteOptionalString(string? value) => value is null ? WriteBool(false) : WriteBool(true).WriteString(value);

    public XdrWriter WriteFixedOpaque(ReadOnlySpan<byte> value)
    {
        var span = Grow((value.Length + 3) & ~3);
        span.Clear();
        value.CopyTo(span);
        return this;
    }

    /// <summary>Raw bytes, as they are (a body already encoded).</summary>
    public XdrWriter WriteRaw(ReadOnlySpan<byte> value)
    {
        value.CopyTo(Grow(value.Length));
        return this;
    }

    /// <summary>Overwrites a 32-bit value written before (the frame length, once known).</summary>
    public void PatchUInt32(int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(offset, 4), value);

    private Span<byte> Grow(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
