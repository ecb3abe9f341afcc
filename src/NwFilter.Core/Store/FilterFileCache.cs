using System.Collections.Concurrent;
using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Store;

/// <summary>
/// Parsed filter files, shared by every store in the process and keyed by (full path, last write time, length), so
/// that listing a large store parses only what changed. Entries younger than <see cref="SettleTime"/> are not kept:
/// file times tick coarsely, and a file rewritten within one tick with the same length would otherwise look unchanged
/// (git's "racily clean" problem, solved the same way).
/// </summary>
internal static class FilterFileCache
{
    internal static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(2);

    // directory -> file name -> entry
    private static readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Entry>> Directories = new(StringComparer.Ordinal);

    /// <summary>What reading one file gave: a filter, or the problems that kept it out.</summary>
    internal sealed record Entry(DateTime LastWriteUtc, long Length, FilterDefinition? Filter, ImmutableArray<Diagnostic> Problems);

    /// <summary>Reads and parses the file of the filter <paramref name="name"/>; null when the file does not exist.</summary>
    internal static Entry? Read(string path, string name)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            Forget(path);
            return null;
        }
        return Lookup(info, out var lastWrite, out var length) ?? Load(info.FullName, name, lastWrite, length);
    }

    /// <summary>
    /// The cached entry for <paramref name="info"/> if the file is unchanged, else null with the file's current time and
    /// length for <see cref="Load"/>. A file that vanished gives null with a length of -1.
    /// </summary>
    internal static Entry? Lookup(FileInfo info, out DateTime lastWrite, out long length)
    {
        try
        {
            lastWrite = info.LastWriteTimeUtc;
            length = info.Length;
        }
        catch (FileNotFoundException)
        {
            (lastWrite, length) = (default, -1);
            return null;
        }
        return Directories.TryGetValue(info.DirectoryName!, out var files) &&
               files.TryGetValue(info.Name, out var cached) && cached.LastWriteUtc == lastWrite && cached.Length == length
            ? cached
            : null;
    }

    /// <summary>Reads and parses a file whose time and length were just taken (stat first, then read: never stale).</summary>
    internal static Entry? Load(string path, string name, DateTime lastWrite, long length)
    {
        if (length < 0)
        {
            return null;
        }
        string text;
        try
        {
            text = DocumentFile.ReadText(path);
        }
        catch (FileNotFoundException)
        {
            Forget(path);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Entry(lastWrite, length, null, [Unreadable(path, name, e.Message)]);
        }

        var entry = new Entry(lastWrite, length, null, []);
        try
        {
            var filter = NwFilterXmlReader.ReadFilter(text, new XmlReadOptions { SourceName = path }).Value;
            if (filter.Name != name)
            {
                entry = entry with
                {
                    Problems =
                    [
                        Diagnostic.Error(
                            StoreCodes.FilterFileNameMismatch,
                            $"The file '{path}' holds the filter '{filter.Name}', not '{name}'; it is ignored.") with
                        {
                            Source = path, Filter = name, Value = filter.Name,
                        },
                    ],
                };
            }
            else
            {
                entry = entry with { Filter = filter.Uuid is null ? filter with { Uuid = FilterStore.DefaultUuid(name) } : filter };
            }
        }
        catch (NwFilterException e)
        {
            entry = entry with { Problems = [.. e.Diagnostics.Select(d => d with { Source = d.Source ?? path, Filter = d.Filter ?? name })] };
        }

        if (DateTime.UtcNow - lastWrite >= SettleTime)
        {
            Directories.GetOrAdd(Path.GetDirectoryName(path)!, _ => new(StringComparer.Ordinal))[Path.GetFileName(path)] = entry;
        }
        return entry;
    }

    /// <summary>Forgets a file (after this process wrote or removed it).</summary>
    internal static void Forget(string path)
    {
        if (Directories.TryGetValue(Path.GetDirectoryName(path)!, out var files))
        {
            files.TryRemove(Path.GetFileName(path), out _);
        }
    }

    /// <summary>
    /// Forgets the files of <paramref name="directory"/> not among <paramref name="present"/> (file names). Stale
    /// entries are never served (only files that exist are looked up); this only bounds the memory.
    /// </summary>
    internal static void Prune(string directory, IReadOnlyCollection<string> present)
    {
        if (!Directories.TryGetValue(directory, out var files) || files.Count <= present.Count)
        {
            return;
        }
        var keep = present as IReadOnlySet<string> ?? present.ToHashSet(StringComparer.Ordinal);
        foreach (var key in files.Keys)
        {
            if (!keep.Contains(key))
            {
                files.TryRemove(key, out _);
            }
        }
    }

    private static Diagnostic Unreadable(string path, string name, string reason) =>
        Diagnostic.Error(StoreCodes.UnreadableFilterFile, $"The filter file '{path}' cannot be read: {reason}", DiagnosticCategory.ResourceUnavailable) with
        {
            Source = path, Filter = name,
        };
}
