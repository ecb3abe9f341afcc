namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// The one libvirt-ref of a machine is shared by the test assemblies, which run at the same time: a test that changes
/// its state (defines a filter, creates a binding, adds a port in its namespace) holds this lock, so no other test sees
/// that state in its virsh output or its import. An exclusive advisory lock (flock) on a file beside libvirt-ref's
/// directory, waited for; released on dispose or when the process ends.
/// </summary>
internal sealed class LibvirtRefLock : IDisposable
{
    private readonly FileStream? _file;

    private LibvirtRefLock(FileStream? file) => _file = file;

    public static string Path => (Environment.GetEnvironmentVariable("LVREF_DIR") ?? "/tmp/nwfilter-libvirt-ref").TrimEnd('/') + ".tests.lock";

    /// <summary>Waits (at most <paramref name="timeout"/>, default 10 minutes) for the lock.</summary>
    public static LibvirtRefLock Take(TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(10));
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive flock(2) on Linux: another process's open fails while it is held.
                return new LibvirtRefLock(new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (UnauthorizedAccessException)
            {
                // Another user's lock file (root's): this user cannot use libvirt-ref either (it needs root), so the
                // tests that would change its state skip; nothing to hold.
                return new LibvirtRefLock(null);
            }
            catch (IOException) when (DateTime.UtcNow < until)
            {
                Thread.Sleep(200);
            }
        }
    }

    public void Dispose() => _file?.Dispose();
}
