using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using Microsoft.Win32.SafeHandles;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Xml;

/// <summary>
/// A document file could not be read as a document: it is not a regular file (a FIFO, a device, a socket), it is
/// larger than <see cref="Limits.MaxDocumentBytes"/>, its bytes are not valid UTF-8 (or UTF-16 after its byte order
/// mark), or it holds a NUL. An <see cref="IOException"/>, so callers that handle unreadable files handle these too;
/// <see cref="Diagnostic"/> says what and where (the file, the byte offset, the line).
/// </summary>
internal sealed class DocumentReadException : IOException
{
    public DocumentReadException(Diagnostic diagnostic)
        : base(diagnostic.ToString()) => Diagnostic = diagnostic;

    /// <summary>What is wrong, with the file as its source.</summary>
    public Diagnostic Diagnostic { get; }
}

/// <summary>
/// Reads document files with bounds (docs/design/limits.md): only regular files, opened without blocking (a FIFO
/// never blocks), at most <see cref="Limits.MaxDocumentBytes"/> bytes read (so <c>/dev/zero</c> cannot exhaust
/// memory), decoded strictly (invalid UTF-8 is an error naming the byte offset, never a silent U+FFFD that would make
/// two different byte names the same filter, as libvirt refuses them too), NUL refused.
/// </summary>
internal static class DocumentFile
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The text of the document file <paramref name="path"/>. Throws <see cref="DocumentReadException"/> for what the
    /// bounds refuse, and the usual <see cref="IOException"/>s (<see cref="FileNotFoundException"/>, ...) and
    /// <see cref="UnauthorizedAccessException"/> otherwise.
    /// </summary>
    public static string ReadText(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = ReadBytes(path);
        return Decode(bytes, path);
    }

    /// <summary>Reads <paramref name="reader"/> to its end, refusing more than <see cref="Limits.MaxDocumentChars"/> characters.</summary>
    internal static string ReadToEnd(TextReader reader, string? source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var text = new StringBuilder();
        var buffer = new char[81920];
        int n;
        while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            if (text.Length + n > Limits.MaxDocumentChars)
            {
                throw new NwFilterException(TooLarge(source, $"more than {Limits.MaxDocumentChars:N0} characters"));
            }
            text.Append(buffer, 0, n);
        }
        return text.ToString();
    }

    internal static Diagnostic TooLarge(string? source, string what) =>
        Diagnostic.Error(XmlDiagnosticCodes.DocumentTooLarge,
            $"The document is too large: {what} (the limit is {Limits.MaxDocumentBytes / (1024 * 1024)} MiB).") with { Source = source };

    private static byte[] ReadBytes(string path)
    {
        using var handle = Open(path, out var length);
        if (length > Limits.MaxDocumentBytes)
        {
            throw new DocumentReadException(TooLarge(path, $"{length:N0} bytes"));
        }
        using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        // The size may change while reading: read at most one byte past the limit, whatever stat said.
        var buffer = new byte[Math.Min(Limits.MaxDocumentBytes + 1L, Math.Max(length, 0) + 1)];
        var filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                if (buffer.Length > Limits.MaxDocumentBytes)
                {
                    throw new DocumentReadException(TooLarge(path, $"more than {Limits.MaxDocumentBytes:N0} bytes"));
                }
                Array.Resize(ref buffer, (int)Math.Min(Limits.MaxDocumentBytes + 1L, buffer.Length * 2L));
            }
            var n = stream.Read(buffer, filled, buffer.Length - filled);
            if (n == 0)
            {
                break;
            }
            filled += n;
        }
        Array.Resize(ref buffer, filled);
        return buffer;
    }

    /// <summary>Opens <paramref name="path"/> for reading, refusing anything but a regular file, with its size (-1 when unknown).</summary>
    private static SafeFileHandle Open(string path, out long length)
    {
        length = -1;
        if (!OperatingSystem.IsLinux())
        {
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            length = RandomAccess.GetLength(handle);
            return handle;
        }
        // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
        var fd = Native.open(path, Native.O_RDONLY | Native.O_NONBLOCK | Native.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                Native.ENOENT or Native.ENOTDIR => new FileNotFoundException($"Could not find file '{path}'.", path),
                Native.EACCES or Native.EPERM => new UnauthorizedAccessException($"Access to the path '{path}' is denied."),
                _ => new IOException($"Cannot open '{path}': {Marshal.GetPInvokeErrorMessage(errno)}", errno),
            };
        }
        var safe = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (Native.TryStat(fd, out var mode, out var size))
            {
                var kind = (mode & Native.S_IFMT) switch
                {
                    Native.S_IFREG => null,
                    Native.S_IFDIR => "a directory",
                    Native.S_IFIFO => "a FIFO (named pipe)",
                    Native.S_IFCHR => "a character device",
                    Native.S_IFBLK => "a block device",
                    Native.S_IFSOCK => "a socket",
                    _ => "not a regular file",
                };
                if (kind is not null)
                {
                    throw new DocumentReadException(Diagnostic.Error(XmlDiagnosticCodes.NotARegularFile,
                        $"Cannot read '{path}' as a document: it is {kind}; only regular files are read.",
                        DiagnosticCategory.InvalidArgument) with { Source = path });
                }
                length = (long)Math.Min(size, long.MaxValue);
            }
            return safe;
        }
        catch
        {
            safe.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Decodes a document's bytes strictly: UTF-8 (an optional byte order mark skipped), or UTF-16 after its byte
    /// order mark, as libxml2 reads them; an invalid sequence or a NUL is an error naming the byte offset.
    /// </summary>
    internal static string Decode(ReadOnlySpan<byte> bytes, string? source)
    {
        if (bytes.Length >= 2 && (bytes[0], bytes[1]) is (0xFF, 0xFE) or (0xFE, 0xFF) &&
            !(bytes.Length >= 4 && bytes[0] == 0xFF && bytes[2] == 0 && bytes[3] == 0))
        {
            return DecodeUtf16(bytes, bigEndian: bytes[0] == 0xFE, source);
        }
        var start = bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        var body = bytes[start..];
        if (!Utf8.IsValid(body))
        {
            var chars = new char[body.Length];
            Utf8.ToUtf16(body, chars, out var valid, out _, replaceInvalidSequences: false, isFinalBlock: true);
            var at = start + valid;
            throw new DocumentReadException(Diagnostic.Error(XmlDiagnosticCodes.InvalidEncoding,
                $"The document is not valid UTF-8: byte 0x{bytes[at]:X2} at byte offset {at} does not start a valid sequence " +
                "(libvirt refuses it too; nothing is replaced).") with { Source = source, Line = LineAt(bytes, at), Value = at.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
        var nul = body.IndexOf((byte)0);
        if (nul >= 0)
        {
            throw Nul(source, start + nul, LineAt(bytes, start + nul));
        }
        return StrictUtf8.GetString(body);
    }

    private static string DecodeUtf16(ReadOnlySpan<byte> bytes, bool bigEndian, string? source)
    {
        var encoding = new UnicodeEncoding(bigEndian, byteOrderMark: false, throwOnInvalidBytes: true);
        string text;
        try
        {
            text = encoding.GetString(bytes[2..]);
        }
        catch (DecoderFallbackException e)
        {
            var at = 2 + Math.Max(e.Index, 0);
            throw new DocumentReadException(Diagnostic.Error(XmlDiagnosticCodes.InvalidEncoding,
                $"The document is not valid UTF-16 (its byte order mark says so): an invalid sequence at byte offset {at}.")
                with { Source = source, Value = at.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
        var nul = text.IndexOf('\0');
        return nul >= 0 ? throw Nul(source, 2 + 2 * nul, 1 + text.AsSpan(0, nul).Count('\n')) : text;
    }

    private static DocumentReadException Nul(string? source, int offset, int line) =>
        new(Diagnostic.Error(XmlDiagnosticCodes.NulCharacter,
            $"The document holds a NUL character at byte offset {offset}; XML does not allow it.")
            with { Source = source, Line = line, Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    private static int LineAt(ReadOnlySpan<byte> bytes, int offset) => 1 + bytes[..offset].Count((byte)'\n');

    private static class Native
    {
        internal const int O_RDONLY = 0;
        internal const int O_NONBLOCK = 0x800;
        internal const int O_CLOEXEC = 0x80000;
        internal const int AT_EMPTY_PATH = 0x1000;
        internal const uint STATX_TYPE = 0x1, STATX_SIZE = 0x200;
        internal const int ENOENT = 2, EPERM = 1, EACCES = 13, ENOTDIR = 20;
        internal const int S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFIFO = 0x1000, S_IFCHR = 0x2000,
            S_IFBLK = 0x6000, S_IFSOCK = 0xC000;

        [DllImport("libc", SetLastError = true)]
        internal static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        /// <summary>struct statx has the same layout on every architecture: stx_mode at 28 (u16), stx_size at 40 (u64).</summary>
        [DllImport("libc", SetLastError = true)]
        private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);

        internal static bool TryStat(int fd, out int mode, out ulong size)
        {
            mode = 0;
            size = 0;
            var buffer = new byte[256];
            try
            {
                if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, buffer) != 0)
                {
                    return false;
                }
            }
            catch (EntryPointNotFoundException)
            {
                return false;
            }
            mode = MemoryMarshal.Read<ushort>(buffer.AsSpan(28));
            size = MemoryMarshal.Read<ulong>(buffer.AsSpan(40));
            return true;
        }
    }
}
