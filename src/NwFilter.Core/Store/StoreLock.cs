using System.Diagnostics;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Store;

/// <summary>
/// The store's writer lock: the file <c>.lock</c> in the store directory, opened exclusively. On Unix .NET takes an
/// advisory <c>flock(LOCK_EX)</c> on it, which excludes other processes and other handles in this process alike, and
/// which the kernel releases if the holder dies. Readers never take it: every write is an atomic rename.
/// </summary>
internal sealed class StoreLock : IDisposable
{
    internal const string FileName = ".lock";

    private readonly FileStream _stream;

    private StoreLock(FileStream stream) => _stream = stream;

    /// <summary>Takes the lock, retrying with a short random back-off until <paramref name="timeout"/>.</summary>
    internal static StoreLock Acquire(string directory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, FileName);
        var clock = Stopwatch.StartNew();
        var delay = 1;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return new StoreLock(Open(path));
            }
            catch (IOException e) when (IsSharingViolation(e))
            {
                if (clock.Elapsed >= timeout)
                {
                    throw new NwFilterException(
                        Diagnostic.Error(
                            StoreCodes.StoreLockTimeout,
                            $"The filter store '{directory}' is locked by another writer; gave up after {timeout.TotalSeconds:0.#} s.",
                            DiagnosticCategory.ResourceUnavailable) with { Source = path },
                        e);
                }
            }
            var wait = Random.Shared.Next(delay, delay * 2 + 1);
            if (cancellationToken.WaitHandle.WaitOne(wait))
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            delay = Math.Min(delay * 2, 20);
        }
    }

    /// <summary>
    /// Opens the lock file for flock: read-write, creating it; on a read-only file system (or without write permission)
    /// an existing lock file is opened read-only, since flock(2) needs no write access: the writer then fails at its
    /// first write, with its own error, instead of here.
    /// </summary>
    private static FileStream Open(string path)
    {
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
        }
        catch (Exception e) when ((e is UnauthorizedAccessException || (e is IOException io && !IsSharingViolation(io))) && File.Exists(path))
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None, 1);
        }
    }

    // Windows: ERROR_SHARING_VIOLATION (32), ERROR_LOCK_VIOLATION (33). Unix: .NET reports the failed
    // flock(LOCK_EX | LOCK_NB) with the raw errno EWOULDBLOCK as the HResult (11 on Linux, 35 on macOS and the BSDs).
    private static bool IsSharingViolation(IOException e) =>
        OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) is 32 or 33 : e.HResult == (OperatingSystem.IsLinux() ? 11 : 35);

    public void Dispose() => _stream.Dispose();
}
