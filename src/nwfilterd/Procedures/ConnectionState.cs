namespace NwFilter.Daemon.Procedures;

/// <summary>
/// What one client connection has said so far: whether it opened the nwfilter driver, whether it may change anything
/// (a read-only socket, or CONNECT_OPEN with VIR_CONNECT_RO), and who it is (for the log).
/// </summary>
internal sealed class ConnectionState(long id, string peer, bool readOnlySocket)
{
    /// <summary>A number for the log, unique in the process.</summary>
    public long Id { get; } = id;

    /// <summary>The peer as the log names it: "pid 123 uid 0".</summary>
    public string Peer { get; } = peer;

    /// <summary>CONNECT_OPEN succeeded (and no CONNECT_CLOSE since).</summary>
    public bool Opened { get; set; }

    /// <summary>The connection may only read: it came on the read-only socket or opened with VIR_CONNECT_RO.</summary>
    public bool ReadOnly { get; set; } = readOnlySocket;

    /// <summary>The connection came on the read-only socket (CONNECT_OPEN cannot lift that).</summary>
    public bool ReadOnlySocket { get; } = readOnlySocket;

    /// <summary>The identity a client's daemon gave with CONNECT_SET_IDENTITY (field=value pairs, for the log).</summary>
    public string? Identity { get; set; }
}
