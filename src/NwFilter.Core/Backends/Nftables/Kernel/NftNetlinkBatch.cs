using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace NwFilter.Core.Backends.Nftables.Kernel;

/// <summary>
/// A port change committed without libnftables' cache (docs/design/nftables.md 7.2). libnftables 1.0.6 dumps every
/// chain of the namespace before a transaction with <c>add rule</c>, <c>add element</c> or <c>delete</c> (about 10,000
/// chains with 1,000 clean-traffic ports: tens of milliseconds), and again after each commit. A script made only of
/// the per-port statements the planner writes (<c>create chain</c>, <c>add rule</c>, <c>add element</c>,
/// <c>delete element</c>, <c>delete chain</c> in NwFilter's two tables) is instead sent as our own nf_tables netlink
/// batch: the rules are first compiled by libnftables in a private, empty network namespace (the scratch context:
/// its cache is only the port's chains), read back from that kernel as netlink attributes, and replayed in the real
/// namespace together with the chains and map elements, in one batch (one transaction, all or nothing, as nft's).
/// </summary>
/// <remarks>
/// Anything else (the tables, maps and base chains, an anonymous set, a named set reference) is not handled here: the
/// caller runs such a script through libnftables. A batch the kernel refuses commits nothing; the caller then runs the
/// same script through libnftables, whose error names the statement as before.
/// </remarks>
internal static partial class NftNetlinkBatch
{
    private const ushort Subsystem = 10; // NFNL_SUBSYS_NFTABLES
    private const ushort NewChain = (Subsystem << 8) | 3, DelChain = (Subsystem << 8) | 5, NewRule = (Subsystem << 8) | 6, GetRule = (Subsystem << 8) | 7;
    private const ushort NewSetElem = (Subsystem << 8) | 12, DelSetElem = (Subsystem << 8) | 14;
    private const ushort BatchBegin = 0x10, BatchEnd = 0x11, NlmsgError = 2, NlmsgDone = 3;
    private const ushort Request = 1, Ack = 4, Excl = 0x200, Create = 0x400, Append = 0x800, Dump = 0x300;
    private const ushort Nested = 0x8000;
    private const byte Inet = 1, Bridge = 7; // NFPROTO_INET, NFPROTO_BRIDGE
    private const int NftJump = -3, NftGoto = -4;
    private const int IfNameSize = 16;

    /// <summary>One statement of a script, in a form the batch can carry.</summary>
    internal abstract record Op(int Line, byte Family);

    internal sealed record CreateChain(int Line, byte Family, string Chain) : Op(Line, Family);

    internal sealed record AddRule(int Line, byte Family, string Chain, string Text) : Op(Line, Family);

    internal sealed record Element(int Line, byte Family, string Map, byte[] Key, int? Verdict, string? Target, bool Delete) : Op(Line, Family);

    internal sealed record DeleteChain(int Line, byte Family, string Chain) : Op(Line, Family);

    [GeneratedRegex(@"^create chain (bridge|inet) nwfilter (\S+)$", RegexOptions.CultureInvariant)]
    private static partial Regex CreateChainLine();

    [GeneratedRegex(@"^add rule (bridge|inet) nwfilter (\S+) (.+)$", RegexOptions.CultureInvariant)]
    private static partial Regex AddRuleLine();

    [GeneratedRegex(@"^(add|delete) element (bridge|inet) nwfilter ([a-z-]+) \{ (""[^""\\]+""|0x[0-9a-f]{8})(?: : (jump|goto) (\S+))? \}$", RegexOptions.CultureInvariant)]
    private static partial Regex ElementLine();

    [GeneratedRegex(@"^delete chain (bridge|inet) nwfilter (\S+)$", RegexOptions.CultureInvariant)]
    private static partial Regex DeleteChainLine();

    /// <summary>A set or map in a rule: an anonymous set (<c>{</c>) or a named one (<c>@name</c>; raw payloads are <c>@nh,</c>, <c>@th,</c>, <c>@ll,</c>).</summary>
    [GeneratedRegex(@"\{|@(?!(?:ll|nh|th),)", RegexOptions.CultureInvariant)]
    private static partial Regex SetReference();

    /// <summary>The statements of <paramref name="script"/> as batch operations; null when one is not a per-port statement the batch carries.</summary>
    public static List<Op>? Parse(string script)
    {
        ArgumentNullException.ThrowIfNull(script);
        var ops = new List<Op>();
        var line = 0;
        foreach (var statement in script.Split('\n'))
        {
            line++;
            if (statement.Length == 0)
            {
                continue;
            }
            if (CreateChainLine().Match(statement) is { Success: true } c && c.Groups[2].Value.Contains('/', StringComparison.Ordinal))
            {
                ops.Add(new CreateChain(line, Family(c.Groups[1].Value), c.Groups[2].Value));
            }
            else if (AddRuleLine().Match(statement) is { Success: true } r && r.Groups[2].Value.Contains('/', StringComparison.Ordinal) && !SetReference().IsMatch(r.Groups[3].Value))
            {
                ops.Add(new AddRule(line, Family(r.Groups[1].Value), r.Groups[2].Value, r.Groups[3].Value));
            }
            else if (ElementLine().Match(statement) is { Success: true } e && (e.Groups[1].Value == "delete") == !e.Groups[5].Success)
            {
                var key = e.Groups[4].Value;
                var bytes = key[0] == '"' ? IfName(key[1..^1]) : Mark(key);
                if (bytes is null)
                {
                    return null;
                }
                var delete = e.Groups[1].Value == "delete";
                ops.Add(new Element(line, Family(e.Groups[2].Value), e.Groups[3].Value, bytes,
                    delete ? null : e.Groups[5].Value == "jump" ? NftJump : NftGoto, delete ? null : e.Groups[6].Value, delete));
            }
            else if (DeleteChainLine().Match(statement) is { Success: true } d && d.Groups[2].Value.Contains('/', StringComparison.Ordinal))
            {
                ops.Add(new DeleteChain(line, Family(d.Groups[1].Value), d.Groups[2].Value));
            }
            else
            {
                return null;
            }
        }
        return ops.Count == 0 ? null : ops;
    }

    /// <summary>The script the scratch context commits: the two tables and the new chains with their rules (nothing else).</summary>
    public static string ScratchScript(IEnumerable<Op> ops)
    {
        var text = new StringBuilder("add table bridge nwfilter\nadd table inet nwfilter\n");
        foreach (var op in ops)
        {
            switch (op)
            {
                case CreateChain c:
                    text.Append(CultureInfo.InvariantCulture, $"add chain {FamilyName(c.Family)} nwfilter {c.Chain}\n");
                    break;
                case AddRule r:
                    text.Append(CultureInfo.InvariantCulture, $"add rule {FamilyName(r.Family)} nwfilter {r.Chain} {r.Text}\n");
                    break;
            }
        }
        return text.ToString();
    }

    /// <summary>What removes the scratch context's tables again.</summary>
    public const string ScratchCleanup = "delete table bridge nwfilter\ndelete table inet nwfilter\n";

    /// <summary>A rule as the kernel holds it: its expressions and user data (the comment), as netlink attributes.</summary>
    internal sealed record KernelRule(byte[] Expressions, byte[]? UserData);

    /// <summary>Every rule of NwFilter's table of <paramref name="family"/>, by chain in order (NFT_MSG_GETRULE dump on <paramref name="fd"/>).</summary>
    /// <param name="fd">The socket.</param>
    /// <param name="family">The table's family.</param>
    /// <param name="sequence">The socket's last sequence number.</param>
    /// <param name="buffer">The receive buffer, kept by the caller (a large array per call would be a large-object-heap allocation per change).</param>
    public static Dictionary<string, List<KernelRule>>? DumpRules(int fd, byte family, ref uint sequence, byte[] buffer)
    {
        var message = new Writer();
        var seq = ++sequence;
        message.Begin(GetRule, (ushort)(Request | Dump), seq, family);
        message.String(1, "nwfilter"); // NFTA_RULE_TABLE
        message.End();
        if (!Send(fd, message.ToArray()))
        {
            return null;
        }
        var rules = new Dictionary<string, List<KernelRule>>(StringComparer.Ordinal);
        while (true)
        {
            var n = Receive(fd, buffer);
            if (n <= 0)
            {
                return null;
            }
            for (var offset = 0; offset + 16 <= n;)
            {
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset));
                var type = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset + 4));
                var messageSeq = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset + 8));
                if (length < 16 || offset + length > n)
                {
                    return null;
                }
                if (messageSeq == seq)
                {
                    if (type == NlmsgDone)
                    {
                        return rules;
                    }
                    if (type == NlmsgError)
                    {
                        return BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset + 16)) == 0 ? rules : null;
                    }
                    if (type == NewRule && length >= 20)
                    {
                        string? chain = null;
                        byte[]? expressions = null, userData = null;
                        foreach (var (attribute, start, end) in Attributes(buffer, offset + 20, offset + length))
                        {
                            switch (attribute)
                            {
                                case 2: chain = Encoding.UTF8.GetString(buffer, start + 4, end - start - 4).TrimEnd('\0'); break; // NFTA_RULE_CHAIN
                                case 4: expressions = buffer[start..end]; break; // NFTA_RULE_EXPRESSIONS, header included
                                case 7: userData = buffer[start..end]; break; // NFTA_RULE_USERDATA
                            }
                        }
                        if (chain is null || expressions is null)
                        {
                            return null;
                        }
                        (rules.TryGetValue(chain, out var list) ? list : rules[chain] = []).Add(new KernelRule(expressions, userData));
                    }
                }
                offset += (length + 3) & ~3;
            }
        }
    }

    /// <summary>The batch for <paramref name="ops"/>, with the kernel's rules of each new chain; and the script line of each message's sequence number.</summary>
    public static (byte[] Batch, Dictionary<uint, int> Lines)? Build(List<Op> ops, Func<byte, string, List<KernelRule>?> rulesOf, ref uint sequence)
    {
        var message = new Writer();
        var lines = new Dictionary<uint, int>();
        message.Begin(BatchBegin, Request, ++sequence, 0, resId: Subsystem);
        message.End();
        var emitted = new HashSet<(byte, string)>();
        foreach (var op in ops)
        {
            var seq = ++sequence;
            lines[seq] = op.Line;
            switch (op)
            {
                case CreateChain c:
                    message.Begin(NewChain, Request | Ack | Create | Excl, seq, c.Family);
                    message.String(1, "nwfilter"); // NFTA_CHAIN_TABLE
                    message.String(3, c.Chain); // NFTA_CHAIN_NAME
                    message.End();
                    break;
                case AddRule r:
                    // A chain's rules come from the scratch kernel in order; its statements are taken in order too.
                    if (!emitted.Add((r.Family, r.Chain)))
                    {
                        sequence--;
                        lines.Remove(seq);
                        continue;
                    }
                    var rules = rulesOf(r.Family, r.Chain);
                    var count = ops.OfType<AddRule>().Count(x => x.Family == r.Family && x.Chain == r.Chain);
                    if (rules is null || rules.Count != count)
                    {
                        return null;
                    }
                    var first = true;
                    foreach (var (rule, statement) in rules.Zip(ops.OfType<AddRule>().Where(x => x.Family == r.Family && x.Chain == r.Chain)))
                    {
                        var ruleSeq = first ? seq : ++sequence;
                        first = false;
                        lines[ruleSeq] = statement.Line;
                        message.Begin(NewRule, Request | Ack | Create | Append, ruleSeq, r.Family);
                        message.String(1, "nwfilter"); // NFTA_RULE_TABLE
                        message.String(2, r.Chain); // NFTA_RULE_CHAIN
                        message.Raw(rule.Expressions);
                        if (rule.UserData is not null)
                        {
                            message.Raw(rule.UserData);
                        }
                        message.End();
                    }
                    break;
                case Element e:
                    message.Begin(e.Delete ? DelSetElem : NewSetElem, (ushort)(Request | Ack | (e.Delete ? 0 : Create)), seq, e.Family);
                    message.String(1, "nwfilter"); // NFTA_SET_ELEM_LIST_TABLE
                    message.String(2, e.Map); // NFTA_SET_ELEM_LIST_SET
                    var list = message.Open(3); // NFTA_SET_ELEM_LIST_ELEMENTS
                    var item = message.Open(1); // NFTA_LIST_ELEM
                    var key = message.Open(1); // NFTA_SET_ELEM_KEY
                    message.Bytes(1, e.Key); // NFTA_DATA_VALUE
                    message.Close(key);
                    if (!e.Delete)
                    {
                        var data = message.Open(2); // NFTA_SET_ELEM_DATA
                        var verdict = message.Open(2); // NFTA_DATA_VERDICT
                        message.BigEndian32(1, e.Verdict!.Value); // NFTA_VERDICT_CODE
                        message.String(2, e.Target!); // NFTA_VERDICT_CHAIN
                        message.Close(verdict);
                        message.Close(data);
                    }
                    message.Close(item);
                    message.Close(list);
                    message.End();
                    break;
                case DeleteChain d:
                    message.Begin(DelChain, Request | Ack, seq, d.Family);
                    message.String(1, "nwfilter"); // NFTA_CHAIN_TABLE
                    message.String(3, d.Chain); // NFTA_CHAIN_NAME
                    message.End();
                    break;
            }
        }
        message.Begin(BatchEnd, Request, ++sequence, 0, resId: Subsystem);
        message.End();
        return (message.ToArray(), lines);
    }

    /// <summary>
    /// Sends a batch and reads one acknowledgement per message: null when all succeeded, else the first failing
    /// message's errno and script line. The kernel commits the batch whole or not at all.
    /// </summary>
    public static (int Errno, int Line)? Commit(int fd, byte[] batch, Dictionary<uint, int> lines, byte[] buffer, out bool unanswered)
    {
        unanswered = false;
        if (!Send(fd, batch))
        {
            unanswered = true;
            return (Marshal.GetLastPInvokeError(), 0);
        }
        var pending = new HashSet<uint>(lines.Keys);
        (int Errno, int Line)? failure = null;
        while (pending.Count > 0)
        {
            if (Poll(fd, 10_000) <= 0)
            {
                unanswered = true;
                return failure ?? (110, 0); // ETIMEDOUT: no answer, the outcome is unknown
            }
            var n = Receive(fd, buffer);
            if (n <= 0)
            {
                unanswered = true;
                return failure ?? (Marshal.GetLastPInvokeError(), 0);
            }
            for (var offset = 0; offset + 16 <= n;)
            {
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset));
                if (length < 16 || offset + length > n)
                {
                    break;
                }
                var type = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset + 4));
                var seq = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset + 8));
                if (type == NlmsgError && length >= 36)
                {
                    // The error's copy of the request header carries the request's sequence number.
                    var requestSeq = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset + 20 + 8));
                    var errno = -BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset + 16));
                    pending.Remove(requestSeq);
                    if (errno != 0 && failure is null)
                    {
                        failure = (errno, lines.GetValueOrDefault(requestSeq));
                    }
                }
                else
                {
                    pending.Remove(seq);
                }
                offset += (length + 3) & ~3;
            }
        }
        return failure;
    }

    private static IEnumerable<(int Type, int Start, int End)> Attributes(byte[] buffer, int start, int end)
    {
        var list = new List<(int, int, int)>();
        for (var offset = start; offset + 4 <= end;)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset));
            var type = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset + 2)) & 0x3fff;
            if (length < 4 || offset + length > end)
            {
                break;
            }
            list.Add((type, offset, offset + length));
            offset += (length + 3) & ~3;
        }
        return list;
    }

    private static byte Family(string name) => name == "bridge" ? Bridge : Inet;

    private static string FamilyName(byte family) => family == Bridge ? "bridge" : "inet";

    /// <summary>An <c>ifname</c> key: the name, zero-padded to IFNAMSIZ (as nft sends it).</summary>
    private static byte[]? IfName(string name)
    {
        var bytes = Encoding.ASCII.GetBytes(name);
        if (bytes.Length >= IfNameSize)
        {
            return null;
        }
        var key = new byte[IfNameSize];
        bytes.CopyTo(key, 0);
        return key;
    }

    /// <summary>A <c>mark</c> key: 32 bits in host byte order (meta mark is host-endian in nf_tables).</summary>
    private static byte[]? Mark(string hex)
    {
        if (!uint.TryParse(hex.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }
        var key = new byte[4];
        BitConverter.TryWriteBytes(key, value);
        return key;
    }

    private static bool Send(int fd, byte[] data)
    {
        while (true)
        {
            var n = Native.send(fd, data, data.Length, 0);
            if (n == data.Length)
            {
                return true;
            }
            if (n >= 0 || Marshal.GetLastPInvokeError() != Eintr)
            {
                return false;
            }
        }
    }

    /// <summary>recv(2), again when a signal interrupted it (the runtime's own signals do, for a GC suspension).</summary>
    private static int Receive(int fd, byte[] buffer)
    {
        while (true)
        {
            var n = (int)Native.recv(fd, buffer, buffer.Length, 0);
            if (n >= 0 || Marshal.GetLastPInvokeError() != Eintr)
            {
                return n;
            }
        }
    }

    private static int Poll(int fd, int timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var poll = new PollFd { Fd = fd, Events = 1 };
            var ready = Native.poll(ref poll, 1, Math.Max(0, timeout - (int)clock.ElapsedMilliseconds));
            if (ready >= 0 || Marshal.GetLastPInvokeError() != Eintr)
            {
                return ready;
            }
        }
    }

    private const int Eintr = 4;

    /// <summary>Netlink messages: nlmsghdr, nfgenmsg, attributes (lengths patched when a message or nest ends).</summary>
    private sealed class Writer
    {
        private readonly List<byte> _data = [];
        private int _message;

        public void Begin(ushort type, ushort flags, uint seq, byte family, ushort resId = 0)
        {
            _message = _data.Count;
            Append32(0);
            Append16(type);
            Append16(flags);
            Append32(seq);
            Append32(0); // port id: the kernel's
            _data.Add(family);
            _data.Add(0); // NFNETLINK_V0
            _data.Add((byte)(resId >> 8)); // res_id, big-endian
            _data.Add((byte)resId);
        }

        public void End() => Patch32(_message, _data.Count - _message);

        public void String(ushort type, string value) => Bytes(type, [.. Encoding.UTF8.GetBytes(value), 0]);

        public void BigEndian32(ushort type, int value)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(bytes, value);
            Bytes(type, bytes);
        }

        public void Bytes(ushort type, byte[] value)
        {
            Append16((ushort)(4 + value.Length));
            Append16(type);
            _data.AddRange(value);
            Pad();
        }

        /// <summary>An attribute copied whole (header included) from a kernel message.</summary>
        public void Raw(byte[] attribute)
        {
            _data.AddRange(attribute);
            Pad();
        }

        public int Open(ushort type)
        {
            var at = _data.Count;
            Append16(0);
            Append16((ushort)(type | Nested));
            return at;
        }

        public void Close(int at)
        {
            var length = (ushort)(_data.Count - at);
            _data[at] = (byte)length;
            _data[at + 1] = (byte)(length >> 8);
        }

        public byte[] ToArray() => [.. _data];

        private void Pad()
        {
            while (_data.Count % 4 != 0)
            {
                _data.Add(0);
            }
        }

        private void Append16(ushort value)
        {
            _data.Add((byte)value);
            _data.Add((byte)(value >> 8));
        }

        private void Append32(uint value)
        {
            Append16((ushort)value);
            Append16((ushort)(value >> 16));
        }

        private void Patch32(int at, int value)
        {
            for (var i = 0; i < 4; i++)
            {
                _data[at + i] = (byte)(value >> (8 * i));
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern nint send(int fd, byte[] buffer, nint length, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern nint recv(int fd, byte[] buffer, nint length, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int poll(ref PollFd fds, nuint count, int timeout);
    }
}
