using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace NwFilter.Core.Backends.Nftables.Kernel;

/// <summary>
/// Resets the counters of the rules of some nf_tables chains, reading their values as they were reset in the same
/// step: one <c>NFT_MSG_GETRULE_RESET</c> dump per chain on a <c>NETLINK_NETFILTER</c> socket opened inside the
/// namespace (the kernel answers each rule with its values and zeroes its stateful expressions; nothing counted between
/// the read and the reset is lost). nft 1.0.6 has no <c>reset rules</c> command (1.0.8 added it), hence the netlink.
/// </summary>
internal static class NftCounterReset
{
    private const ushort GetRuleReset = (10 << 8) | 25; // NFNL_SUBSYS_NFTABLES, NFT_MSG_GETRULE_RESET
    private const ushort NewRule = (10 << 8) | 6;
    private const ushort NlmsgError = 2;
    private const ushort NlmsgDone = 3;
    private const ushort FlagsDumpRequest = 0x1 | 0x300; // NLM_F_REQUEST | NLM_F_DUMP

    /// <summary>The nfproto number of a family name (<c>bridge</c>, <c>inet</c>).</summary>
    public static byte Family(string family) => family switch
    {
        "inet" => 1,
        "ip" => 2,
        "bridge" => 7,
        "ip6" => 10,
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "Not an nf_tables family NwFilter uses."),
    };

    /// <summary>
    /// Resets every rule's counters in the chains; returns, per chain, its rules in order (handle, and the packets and
    /// bytes they held). Runs on a thread of its own (it enters the namespace). The xtables-nft tools' tables are
    /// nf_tables tables too (<c>bridge nat</c>, <c>ip filter</c>, <c>ip6 filter</c>): their rules reset the same way.
    /// </summary>
    /// <exception cref="InvalidOperationException">The socket failed, or the kernel refused (no such table or chain: tools of the legacy kind).</exception>
    public static Task<Dictionary<string, List<(long Handle, long Packets, long Bytes)>>> ResetAsync(string? networkNamespace, string family, string table,
        IReadOnlyCollection<string> chains)
    {
        var done = new TaskCompletionSource<Dictionary<string, List<(long, long, long)>>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(Reset(networkNamespace, Family(family), table, chains));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        { IsBackground = true, Name = "nwfilter counter reset" };
        thread.Start();
        return done.Task;
    }

    private static Dictionary<string, List<(long, long, long)>> Reset(string? networkNamespace, byte family, string table, IReadOnlyCollection<string> chains)
    {
        var values = new Dictionary<string, List<(long, long, long)>>(StringComparer.Ordinal);
        var fd = NfTablesGenerationWatch.OpenNetfilterSocket(networkNamespace);
        try
        {
            var buffer = new byte[64 * 1024];
            uint seq = 0;
            foreach (var chain in chains)
            {
                seq++;
                var request = Request(family, table, chain, seq);
                if (Native.send(fd, request, request.Length, 0) != request.Length)
                {
                    throw new InvalidOperationException($"sending the counter reset of chain {chain} failed (errno {Marshal.GetLastPInvokeError()}).");
                }
                var finished = false;
                var rules = values[chain] = [];
                while (!finished)
                {
                    var n = Native.recv(fd, buffer, buffer.Length, 0);
                    if (n < 0)
                    {
                        throw new InvalidOperationException($"reading the counter reset of chain {chain} failed (errno {Marshal.GetLastPInvokeError()}).");
                    }
                    finished = Parse(buffer.AsSpan(0, (int)n), chain, rules);
                }
            }
        }
        finally
        {
            Native.close(fd);
        }
        return values;
    }

    /// <summary>The dump request of one chain.</summary>
    internal static byte[] Request(byte family, string table, string chain, uint seq)
    {
        var t = Encoding.UTF8.GetBytes(table + "\0");
        var c = Encoding.UTF8.GetBytes(chain + "\0");
        static int Aligned(int n) => (n + 3) & ~3;
        var length = 16 + 4 + Aligned(4 + t.Length) + Aligned(4 + c.Length);
        var message = new byte[length];
        var span = message.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], GetRuleReset);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], FlagsDumpRequest);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], seq);
        span[16] = family; // nfgenmsg: family, version 0, res_id 0
        var at = 20;
        foreach (var (type, value) in new[] { ((ushort)1, t), ((ushort)2, c) }) // NFTA_RULE_TABLE, NFTA_RULE_CHAIN
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)(4 + value.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(span[(at + 2)..], type);
            value.CopyTo(span[(at + 4)..]);
            at += Aligned(4 + value.Length);
        }
        return message;
    }

    /// <summary>Reads the NEWRULE answers of one datagram into <paramref name="rules"/> (in the chain's order); true at the dump's end.</summary>
    internal static bool Parse(ReadOnlySpan<byte> data, string chain, List<(long Handle, long Packets, long Bytes)> rules)
    {
        while (data.Length >= 16)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data);
            if (length < 16 || length > data.Length)
            {
                throw new InvalidOperationException("The kernel's counter reset answer is truncated.");
            }
            var type = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
            if (type == NlmsgDone)
            {
                return true;
            }
            if (type == NlmsgError)
            {
                var errno = length >= 20 ? -BinaryPrimitives.ReadInt32LittleEndian(data[16..]) : 0;
                if (errno != 0)
                {
                    throw new InvalidOperationException($"The kernel refused the counter reset of chain {chain} (errno {errno}{(errno == 2 ? ": no such chain" : errno == 1 ? ": needs CAP_NET_ADMIN" : "")}).");
                }
                return true;
            }
            if (type == NewRule && length >= 20)
            {
                long? handle = null;
                long packets = 0, bytes = 0;
                foreach (var (attr, value) in Attributes(data[20..length]))
                {
                    if (attr == 3 && value.Length >= 8)
                    {
                        handle = BinaryPrimitives.ReadInt64BigEndian(value); // NFTA_RULE_HANDLE
                    }
                    else if (attr == 4) // NFTA_RULE_EXPRESSIONS: NFTA_LIST_ELEM each
                    {
                        foreach (var (_, element) in Attributes(value))
                        {
                            string? name = null;
                            var counter = ReadOnlySpan<byte>.Empty;
                            foreach (var (e, v) in Attributes(element))
                            {
                                if (e == 1) // NFTA_EXPR_NAME
                                {
                                    name = Encoding.ASCII.GetString(v).TrimEnd('\0');
                                }
                                else if (e == 2) // NFTA_EXPR_DATA
                                {
                                    counter = v;
                                }
                            }
                            if (name == "counter")
                            {
                                foreach (var (c, v) in Attributes(counter))
                                {
                                    if (c == 1 && v.Length >= 8) // NFTA_COUNTER_BYTES
                                    {
                                        bytes += BinaryPrimitives.ReadInt64BigEndian(v);
                                    }
                                    else if (c == 2 && v.Length >= 8) // NFTA_COUNTER_PACKETS
                                    {
                                        packets += BinaryPrimitives.ReadInt64BigEndian(v);
                                    }
                                }
                            }
                        }
                    }
                }
                if (handle is { } h)
                {
                    rules.Add((h, packets, bytes));
                }
            }
            data = data[Math.Min(data.Length, (length + 3) & ~3)..];
        }
        return false;
    }

    private static List<(int Type, byte[] Value)> Attributes(ReadOnlySpan<byte> data)
    {
        var list = new List<(int, byte[])>();
        while (data.Length >= 4)
        {
            var len = BinaryPrimitives.ReadUInt16LittleEndian(data);
            var type = BinaryPrimitives.ReadUInt16LittleEndian(data[2..]) & 0x3fff;
            if (len < 4 || len > data.Length)
            {
                break;
            }
            list.Add((type, data[4..len].ToArray()));
            data = data[Math.Min(data.Length, (len + 3) & ~3)..];
        }
        return list;
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern nint send(int fd, byte[] buffer, nint length, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern nint recv(int fd, byte[] buffer, nint length, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);
    }
}
