using System.Buffers.Binary;
using System.Net.Sockets;

namespace NwFilter.Daemon.Server;

/// <summary>Who is at the other end of a Unix socket (SO_PEERCRED: the kernel's word, not the client's).</summary>
internal readonly record struct PeerCredentials(int ProcessId, uint UserId, uint GroupId)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The peer of a connected Unix socket.</summary>
    public static PeerCredentials Of(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        var n = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (n < 12)
        {
            throw new SocketException((int)SocketError.ProtocolOption);
        }
        return new PeerCredentials(
            BinaryPrimitives.ReadInt32LittleEndian(ucred),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..]));
    }

    /// <summary>The peer's supplementary groups (from /proc/PID/status; empty when the process is gone).</summary>
    public IReadOnlyList<uint> SupplementaryGroups()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{ProcessId}/status"))
            {
                if (line.StartsWith("Groups:", StringComparison.Ordinal))
                {
                    return [.. line[7..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(uint.Parse)];
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
        }
        return [];
    }

    /// <summary>Root, or a member of <paramref name="group"/> (primary or supplementary) when one is configured.</summary>
    public bool IsAllowed(uint? group) =>
        UserId == 0 || (group is { } g && (GroupId == g || SupplementaryGroups().Contains(g)));

    public override string ToString() => $"pid {ProcessId} uid {UserId} gid {GroupId}";
}
