using System.Runtime.InteropServices;
using NwFilter.Core.Host;

namespace NwFilter.Core.Learning;

/// <summary>
/// Moves the calling thread into a named network namespace (setns(2) on <c>/run/netns/NAME</c>) and back. On Linux the
/// network namespace is a property of each thread, so only the calling thread moves; sockets it opens meanwhile stay
/// in that namespace for their whole life, whichever thread uses them later. Use it only on a dedicated thread (never
/// a pool thread, which would carry the namespace into unrelated work if the return failed).
/// </summary>
internal sealed class NamespaceEntry : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private const int ORdOnly = 0;
    private const int OCloExec = 0x80000;

    private int original;

    private NamespaceEntry(int original) => this.original = original;

    /// <summary>The file that names a namespace created by <c>ip netns add</c>.</summary>
    public static string PathOf(string name) => "/run/netns/" + name;

    /// <summary>Enters <paramref name="name"/>; Dispose returns the thread to where it was.</summary>
    public static NamespaceEntry Enter(string name)
    {
        if (!NetworkNamespace.IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid network namespace name.", nameof(name));
        }
        var original = Open("/proc/thread-self/ns/net");
        try
        {
            var target = Open(PathOf(name));
            try
            {
                if (NativeMethods.setns(target, CloneNewNet) != 0)
                {
                    throw Error($"setns({PathOf(name)})");
                }
            }
            finally
            {
                NativeMethods.close(target);
            }
        }
        catch
        {
            NativeMethods.close(original);
            throw;
        }
        return new NamespaceEntry(original);
    }

    /// <summary>Returns to the original namespace. A failure here is fatal for the thread, so it throws.</summary>
    public void Dispose()
    {
        if (original < 0)
        {
            return;
        }
        var fd = original;
        original = -1;
        try
        {
            if (NativeMethods.setns(fd, CloneNewNet) != 0)
            {
                throw Error("setns(back to the original namespace)");
            }
        }
        finally
        {
            NativeMethods.close(fd);
        }
    }

    private static int Open(string path)
    {
        var fd = NativeMethods.open(path, ORdOnly | OCloExec);
        return fd >= 0 ? fd : throw Error($"open({path})");
    }

    private static IOException Error(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true)]
        internal static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        internal static extern int setns(int fd, int nstype);

        [DllImport("libc", SetLastError = true)]
        internal static extern int close(int fd);
    }
}
