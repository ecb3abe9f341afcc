using System.Security.Cryptography;
using System.Text;

namespace NwFilter.Core.BuiltIn;

/// <summary>RFC 9562 name-based UUIDs, version 5 (SHA-1): the same namespace and name always give the same UUID.</summary>
internal static class NameBasedUuid
{
    /// <summary>NwFilter's own namespace for its built-in filters' UUIDs.</summary>
    public static Guid BuiltInFilterNamespace { get; } = new("6f1d2b1e-52c8-4c4e-9a0e-4e57f11e7a01");

    /// <summary>The version-5 UUID of <paramref name="name"/> (UTF-8) in <paramref name="namespaceId"/>.</summary>
    public static Guid Create(Guid namespaceId, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[16 + nameBytes.Length];
        namespaceId.TryWriteBytes(input, bigEndian: true, out _);
        nameBytes.CopyTo(input, 16);
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(input, hash);
        var uuid = hash[..16];
        uuid[6] = (byte)((uuid[6] & 0x0F) | 0x50);
        uuid[8] = (byte)((uuid[8] & 0x3F) | 0x80);
        return new Guid(uuid, bigEndian: true);
    }
}
