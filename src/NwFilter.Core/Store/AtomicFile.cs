using System.Runtime.InteropServices;
using System.Text;

namespace NwFilter.Core.Store;

/// <summary>
/// Replaces a file so that a reader sees either the old content or the new, never a mixture: the new content goes to a
/// temporary dot file in the same directory, is flushed to disk (fsync), and is renamed over the target; then the
/// directory itself is synced so the rename survives a crash.
/// </summary>
internal static class AtomicFile
{
    /// <summary>The prefix of temporary files; filter names never start with a dot, so they never collide.</summary>
    internal const string TempPrefix = ".";

    /// <summary>The suffix of temporary files.</summary>
    internal const string TempSuffix = ".tmp";

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <param name="path">The file.</param>
    /// <param name="content">Its new content.</param>
    /// <param name="durable">False skips the fsyncs, for runtime state (under /run) that a reboot discards anyway.</param>
    internal static void WriteAllText(string path, string content, bool durable = true) =>
        WriteAllBytes(path, Utf8.GetBytes(content), durable);

    /// <summary>Replaces <paramref name="path"/> with <paramref name="bytes"/> as <see cref="WriteAllText"/> does.</summary>
    internal static void WriteAllBytes(string path, byte[] bytes, bool durable = true)
    {
        var temp = Stage(path, bytes, durable);
        Commit(temp, path, durable);
    }

    /// <summary>
    /// The first half of a replacement: writes <paramref name="bytes"/> to a new temporary file beside
    /// <paramref name="path"/> and returns its path; <paramref name="path"/> is untouched. On failure (a full or
    /// read-only file system) the temporary file is deleted and the exception thrown, so no partial file remains.
    /// </summary>
    internal static string Stage(string path, byte[] bytes, bool durable = true)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(directory, $"{TempPrefix}{Path.GetFileName(path)}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                // Unbuffered: the bytes go in one write(2), with no buffer allocated per file (a batch writes a thousand).
                BufferSize = 0,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            }
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: durable);
            }
        }
        catch
        {
            Discard(temp);
            throw;
        }
        return temp;
    }

    /// <summary>The second half: renames a file from <see cref="Stage"/> over <paramref name="path"/> (no space needed).</summary>
    internal static void Commit(string temp, string path, bool durable = true)
    {
        try
        {
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            Discard(temp);
            throw;
        }
        if (durable)
        {
            SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
    }

    /// <summary>Deletes a staged file that will not be committed (best effort).</summary>
    internal static void Discard(string temp) => TryDelete(temp);

    /// <summary>Deletes a file and syncs its directory; true when it existed.</summary>
    internal static bool Delete(string path, bool durable = true)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        File.Delete(path);
        if (durable)
        {
            SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        return true;
    }

    /// <summary>True for the name of a temporary file this class makes.</summary>
    internal static bool IsTempFile(string fileName) =>
        fileName.StartsWith(TempPrefix, StringComparison.Ordinal) && fileName.EndsWith(TempSuffix, StringComparison.Ordinal);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>fsync(2) on the directory, so a rename or unlink in it is durable. Best effort; Unix only.</summary>
    private static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        try
        {
            var fd = NativeMethods.open(directory, NativeMethods.O_RDONLY | NativeMethods.O_DIRECTORY);
            if (fd >= 0)
            {
                NativeMethods.fsync(fd);
                NativeMethods.close(fd);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    private static class NativeMethods
    {
        internal const int O_RDONLY = 0;
        internal static readonly int O_DIRECTORY = OperatingSystem.IsLinux() ? 0x10000 : 0x100000;

        [DllImport("libc", SetLastError = true)]
        internal static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        internal static extern int fsync(int fd);

        [DllImport("libc", SetLastError = true)]
        internal static extern int close(int fd);
    }
}
