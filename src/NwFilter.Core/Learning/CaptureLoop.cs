using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace NwFilter.Core.Learning;

/// <summary>
/// One thread that reads every open capture of the process: it waits in <c>poll(2)</c> on the selectable descriptors
/// of all registered libpcap handles (non-blocking) and on an eventfd that wakes it for registrations and removals,
/// then drains each ready handle with <c>pcap_next_ex</c>. A learning port costs its capture ring, not a thread
/// (docs/design/learning.md, "One capture loop").
/// </summary>
/// <remarks>
/// Handles are opened elsewhere (on a short-lived thread inside the device's namespace: the socket keeps its
/// namespace for life) and handed over with <see cref="Add"/>; the loop owns them from then on and closes them on
/// <see cref="Remove"/>, so no handle is ever read and closed at once. A frame goes to the capture's sink on the loop
/// thread: the sink must not block (the learners' sinks write into a bounded channel that drops when full).
/// </remarks>
internal sealed class CaptureLoop
{
    /// <summary>The process's loop (started with its first capture).</summary>
    public static CaptureLoop Shared { get; } = new();

    /// <summary>Frames read from one handle before the loop looks at the others (fairness under a flood).</summary>
    private const int BurstPerHandle = 64;

    private readonly ConcurrentQueue<Action> commands = new();
    private readonly List<Registration> registrations = [];
    private readonly object startLock = new();
    private int wakeFd = -1;
    private Thread? thread;

    /// <summary>A handle the loop reads: its descriptor, where frames go and how it ends.</summary>
    /// <param name="Handle">The activated, non-blocking pcap_t.</param>
    /// <param name="Descriptor">Its selectable descriptor (pcap_get_selectable_fd).</param>
    /// <param name="Frame">Called with each frame (time, a copy of its bytes), on the loop thread.</param>
    /// <param name="Failed">Called once when reading fails (the device went away); the loop then drops the handle.</param>
    /// <param name="Close">Closes the handle (called on the loop thread when it is removed or failed).</param>
    internal sealed record Registration(IntPtr Handle, int Descriptor, Action<DateTimeOffset, byte[]> Frame, Action<string> Failed, Action Close)
    {
        public TaskCompletionSource Removed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Threads the loop runs on: 0 before the first capture, 1 after (whatever the number of captures).</summary>
    public int Threads => thread is null ? 0 : 1;

    /// <summary>Captures being read now.</summary>
    public int Count { get; private set; }

    /// <summary>Hands an open handle to the loop; frames flow from the loop's next turn on.</summary>
    public void Add(Registration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        EnsureStarted();
        Post(() =>
        {
            registrations.Add(registration);
            Count = registrations.Count;
        });
    }

    /// <summary>Stops reading a handle and closes it; the task completes once it is closed.</summary>
    public Task Remove(Registration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        Post(() => Drop(registration));
        return registration.Removed.Task;
    }

    private void Drop(Registration registration)
    {
        if (registrations.Remove(registration))
        {
            Count = registrations.Count;
            try
            {
                registration.Close();
            }
            catch (Exception)
            {
                // Closing a pcap handle does not fail in a way the caller could act on.
            }
        }
        registration.Removed.TrySetResult();
    }

    private void EnsureStarted()
    {
        lock (startLock)
        {
            if (thread is not null)
            {
                return;
            }
            wakeFd = Native.eventfd(0, Native.EfdCloExec | Native.EfdNonBlock);
            if (wakeFd < 0)
            {
                throw new IOException($"eventfd failed (errno {Marshal.GetLastPInvokeError()}).");
            }
            thread = new Thread(Run) { IsBackground = true, Name = "nwfilter-pcap" };
            thread.Start();
        }
    }

    private void Post(Action command)
    {
        commands.Enqueue(command);
        if (wakeFd >= 0)
        {
            _ = Native.write(wakeFd, BitConverter.GetBytes(1UL), 8);
        }
    }

    private void Run()
    {
        var fds = new Native.PollFd[1];
        var drain = new byte[8];
        while (true)
        {
            while (commands.TryDequeue(out var command))
            {
                command();
            }
            if (fds.Length != registrations.Count + 1)
            {
                fds = new Native.PollFd[registrations.Count + 1];
            }
            fds[0] = new Native.PollFd { Fd = wakeFd, Events = Native.PollIn };
            for (var i = 0; i < registrations.Count; i++)
            {
                fds[i + 1] = new Native.PollFd { Fd = registrations[i].Descriptor, Events = Native.PollIn };
            }
            var ready = Native.poll(fds, (nuint)fds.Length, -1);
            if (ready < 0)
            {
                continue; // EINTR
            }
            if ((fds[0].Revents & Native.PollIn) != 0)
            {
                _ = Native.read(wakeFd, drain, 8);
            }
            // Index from the end: a failed handle is dropped from the list while walking it.
            for (var i = fds.Length - 1; i >= 1; i--)
            {
                var events = fds[i].Revents;
                if (events == 0 || i - 1 >= registrations.Count)
                {
                    continue;
                }
                var registration = registrations[i - 1];
                if ((events & (Native.PollErr | Native.PollHup | Native.PollNval)) != 0 && (events & Native.PollIn) == 0)
                {
                    Fail(registration, "the capture's socket reported an error (the device went away)");
                    continue;
                }
                ReadBurst(registration);
            }
        }
    }

    private void ReadBurst(Registration registration)
    {
        for (var n = 0; n < BurstPerHandle; n++)
        {
            int result;
            IntPtr header, data;
            result = Native.pcap_next_ex(registration.Handle, out header, out data);
            if (result == 0)
            {
                return; // nothing more for now (non-blocking)
            }
            if (result < 0)
            {
                Fail(registration, Marshal.PtrToStringUTF8(Native.pcap_geterr(registration.Handle)) ?? "pcap_next_ex failed");
                return;
            }
            // struct pcap_pkthdr on 64-bit Linux: struct timeval (two longs), caplen, len.
            var seconds = Marshal.ReadInt64(header);
            var micros = Marshal.ReadInt64(header, 8);
            var length = Marshal.ReadInt32(header, 16);
            var bytes = new byte[length];
            Marshal.Copy(data, bytes, 0, length);
            var time = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(micros * 10);
            registration.Frame(time, bytes);
        }
    }

    private void Fail(Registration registration, string why)
    {
        try
        {
            registration.Failed(why);
        }
        finally
        {
            Drop(registration);
        }
    }

    private static class Native
    {
        public const short PollIn = 0x001;
        public const short PollErr = 0x008;
        public const short PollHup = 0x010;
        public const short PollNval = 0x020;
        public const int EfdCloExec = 0x80000;
        public const int EfdNonBlock = 0x800;

        [StructLayout(LayoutKind.Sequential)]
        public struct PollFd
        {
            public int Fd;
            public short Events;
            public short Revents;
        }

        [DllImport("libc", SetLastError = true)]
        public static extern int poll([In, Out] PollFd[] fds, nuint nfds, int timeout);

        [DllImport("libc", SetLastError = true)]
        public static extern int eventfd(uint initval, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern nint read(int fd, [Out] byte[] buffer, nint count);

        [DllImport("libc", SetLastError = true)]
        public static extern nint write(int fd, byte[] buffer, nint count);

        // The libpcap SharpPcap loaded (Debian's libpcap0.8 names it libpcap.so.0.8); the same library, so its handles.
        [DllImport("libpcap.so.0.8")]
        public static extern int pcap_next_ex(IntPtr handle, out IntPtr header, out IntPtr data);

        [DllImport("libpcap.so.0.8")]
        public static extern IntPtr pcap_geterr(IntPtr handle);

        [DllImport("libpcap.so.0.8")]
        public static extern int pcap_get_selectable_fd(IntPtr handle);
    }

    /// <summary>The selectable descriptor of an activated handle (-1 where there is none).</summary>
    public static int SelectableDescriptor(IntPtr handle) => Native.pcap_get_selectable_fd(handle);
}
