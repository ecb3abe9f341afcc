using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.Nftables.Kernel;

/// <summary>
/// The kernel's nf_tables change events of a namespace, straight from netlink: a <c>NETLINK_NETFILTER</c> socket opened
/// inside the namespace (a thread enters it with setns(2), the socket keeps it) and joined to the
/// <c>NFNLGRP_NFTABLES</c> group. Every committed transaction ends with an <c>NFT_MSG_NEWGEN</c> message (its generation,
/// and the pid and name of the process that committed it): that message is one change; nothing else is decoded, so a
/// flush of thousands of rules costs no more to notice than one rule (<c>nft monitor</c> prints every object first:
/// hundreds of milliseconds for 100 ports). It covers NwFilter's tables and, with the nft variants of the xtables tools
/// (ebtables-nft, iptables-nft), the EbIpTables backend's tables too. Transactions of this very process (an in-process
/// libnftables context) are NwFilter's own and not reported. A full receive buffer (events lost) is reported as a change.
/// </summary>
internal sealed class NfTablesGenerationWatch(string? networkNamespace) : IRulesetChangeSource
{
    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int NetlinkNetfilter = 12;
    private const int SolNetlink = 270;
    private const int NetlinkAddMembership = 1;
    private const int NfnlgrpNftables = 7;
    private const int SolSocket = 1;
    private const int SoRcvbufforce = 33;
    private const int CloneNewNet = 0x40000000;
    private const ushort NewGenType = (10 << 8) | 15; // NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN
    private const short PollIn = 1;
    private const int Eintr = 4;
    private const int Enobufs = 105;

    public string Name => "nf_tables netlink events" + (networkNamespace is null ? "" : " in network namespace " + networkNamespace);

    public Task WatchAsync(Action<string> changed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changed);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Watch(changed, cancellationToken);
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        { IsBackground = true, Name = "nwfilter nf_tables events" };
        thread.Start();
        return done.Task;
    }

    private void Watch(Action<string> changed, CancellationToken cancellationToken)
    {
        var fd = Open();
        try
        {
            var buffer = new byte[256 * 1024];
            var own = (uint)Environment.ProcessId;
            var poll = new PollFd { Fd = fd, Events = PollIn };
            while (!cancellationToken.IsCancellationRequested)
            {
                var ready = Native.poll(ref poll, 1, 200);
                if (ready < 0 && Marshal.GetLastPInvokeError() != Eintr)
                {
                    throw new InvalidOperationException($"poll on the nf_tables event socket failed (errno {Marshal.GetLastPInvokeError()}).");
                }
                if (ready <= 0)
                {
                    continue;
                }
                var n = Native.recv(fd, buffer, buffer.Length, 0);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Enobufs)
                    {
                        changed("events lost (receive buffer full): the ruleset changed");
                        continue;
                    }
                    if (errno == Eintr)
                    {
                        continue;
                    }
                    throw new InvalidOperationException($"reading the nf_tables events failed (errno {errno}).");
                }
                foreach (var change in Generations(buffer.AsSpan(0, (int)n), own))
                {
                    changed(change);
                }
            }
        }
        finally
        {
            Native.close(fd);
        }
    }

    /// <summary>The NEWGEN messages of one datagram, as <c>new generation N by process PID (NAME)</c>, other processes' only.</summary>
    internal static List<string> Generations(ReadOnlySpan<byte> data, uint ownPid)
    {
        var changes = new List<string>();
        while (data.Length >= 16)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data);
            if (length < 16 || length > data.Length)
            {
                break;
            }
            if (BinaryPrimitives.ReadUInt16LittleEndian(data[4..]) == NewGenType && length >= 20)
            {
                uint? generation = null, pid = null;
                string? name = null;
                var attributes = data[20..length];
                while (attributes.Length >= 4)
                {
                    var len = BinaryPrimitives.ReadUInt16LittleEndian(attributes);
                    var type = BinaryPrimitives.ReadUInt16LittleEndian(attributes[2..]) & 0x3fff;
                    if (len < 4 || len > attributes.Length)
                    {
                        break;
                    }
                    var value = attributes[4..len];
                    switch (type)
                    {
                        case 1 when value.Length >= 4: generation = BinaryPrimitives.ReadUInt32BigEndian(value); break; // NFTA_GEN_ID
                        case 2 when value.Length >= 4: pid = BinaryPrimitives.ReadUInt32BigEndian(value); break; // NFTA_GEN_PROC_PID
                        case 3: name = Encoding.UTF8.GetString(value).TrimEnd('\0'); break; // NFTA_GEN_PROC_NAME
                    }
                    attributes = attributes[Math.Min(attributes.Length, (len + 3) & ~3)..];
                }
                if (pid != ownPid)
                {
                    changes.Add($"new generation {generation?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} by process " +
                        $"{pid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} ({name ?? "?"})");
                }
            }
            data = data[Math.Min(data.Length, (length + 3) & ~3)..];
        }
        return changes;
    }

    /// <summary>The event socket: a netfilter socket of the namespace, bound and joined to the nf_tables group.</summary>
    private int Open()
    {
        var fd = OpenNetfilterSocket(networkNamespace);
        var address = new SockaddrNl { Family = AfNetlink };
        var group = NfnlgrpNftables;
        var size = 4 << 20;
        if (Native.bind(fd, ref address, Marshal.SizeOf<SockaddrNl>()) != 0 ||
            Native.setsockopt(fd, SolNetlink, NetlinkAddMembership, ref group, sizeof(int)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Native.close(fd);
            throw new InvalidOperationException($"joining the nf_tables event group failed (errno {errno}{(errno == 1 ? ": needs CAP_NET_ADMIN" : "")}).");
        }
        Native.setsockopt(fd, SolSocket, SoRcvbufforce, ref size, sizeof(int)); // best effort: a bigger buffer loses fewer events
        return fd;
    }

    /// <summary>
    /// A <c>NETLINK_NETFILTER</c> socket of <paramref name="networkNamespace"/> (null: this process's): the calling thread
    /// enters the namespace for the socket(2) call and goes back; the socket keeps the namespace.
    /// </summary>
    internal static int OpenNetfilterSocket(string? networkNamespace)
    {
        SafeFileHandle? home = null;
        if (networkNamespace is not null)
        {
            home = File.OpenHandle("/proc/thread-self/ns/net");
            using var target = File.OpenHandle(Path.Combine("/run/netns", networkNamespace));
            if (Native.setns((int)target.DangerousGetHandle(), CloneNewNet) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                home.Dispose();
                throw new InvalidOperationException($"entering network namespace {networkNamespace} failed (errno {errno}).");
            }
        }
        try
        {
            var fd = Native.socket(AfNetlink, SockRaw | SockCloexec, NetlinkNetfilter);
            if (fd < 0)
            {
                throw new InvalidOperationException($"opening a netfilter netlink socket failed (errno {Marshal.GetLastPInvokeError()}).");
            }
            return fd;
        }
        finally
        {
            if (home is not null)
            {
                Native.setns((int)home.DangerousGetHandle(), CloneNewNet);
                home.Dispose();
            }
        }
    }

    /// <summary>
    /// The default change sources of a namespace: its nf_tables events; for the host's own namespace, where a system
    /// bus exists, also firewalld's reload signal (<see cref="FirewalldReloadWatch"/>; firewalld manages only that namespace).
    /// </summary>
    public static IReadOnlyList<IRulesetChangeSource> Defaults(string? networkNamespace) =>
        networkNamespace is null && FirewalldReloadWatch.SystemBusPresent()
            ? [new NfTablesGenerationWatch(networkNamespace), new FirewalldReloadWatch()]
            : [new NfTablesGenerationWatch(networkNamespace)];

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint Pid;
        public uint Groups;
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
        public static extern int socket(int domain, int type, int protocol);

        [DllImport("libc", SetLastError = true)]
        public static extern int bind(int fd, ref SockaddrNl address, int length);

        [DllImport("libc", SetLastError = true)]
        public static extern int setsockopt(int fd, int level, int name, ref int value, int length);

        [DllImport("libc", SetLastError = true)]
        public static extern nint recv(int fd, byte[] buffer, nint length, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int poll(ref PollFd fds, nuint count, int timeout);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern int setns(int fd, int nstype);
    }
}
