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

    private static readonly ConcurrentDictionary<string, Entry> Entries = new(StringComparer.Ordinal);

    /// <summary>What reading one file gave: a filter, or the problems that kept it out.</summary>
    internal sealed record Entry(DateTime LastWriteUtc, long Length, FilterDefinition? Filter, ImmutableArray<Diagnostic> Problems);

    /// <summary>Reads and parses the file of the filter <paramref name="name"/>; null when the file does not exist.</summary>
    internal static Entry? Read(string path, string name)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            Entries.TryRemove(path, out _);
            return null;
        }
        return Read(info, name);
    }

    /// <summary>Reads the file <paramref name="info"/> stands for (its times as of the enumeration).</summary>
    internal static Entry? Read(FileInfo info, string name)
    {
        var path = info.FullName;
        DateTime lastWrite;
        long length;
        try
        {
            lastWrite = info.LastWriteTimeUtc;
            length = info.Length;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        if (Entries.TryGetValue(path, out var cached) && cached.LastWriteUtc == lastWrite && cached.Length == length)
        {
            return cached;
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            Entries.TryRemove(path, out _);
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
            Entries[path] = entry;
        }
        return entry;
    }

    /// <summary>Forgets a file (after this process wrote or removed it).</summary>
    internal static void Forget(string path) => Entries.TryRemove(path, out _);

    /// <summary>Forgets every file under <paramref name="directory"/> that is not in <paramref name="present"/>.</summary>
    internal static void Prune(string directory, IReadOnlySet<string> present)
    {
        var prefix = directory.EndsWith(Path.DirectorySeparatorChar) ? directory : directory + Path.DirectorySeparatorChar;
        foreach (var key in Entries.Keys)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal) && key.IndexOf(Path.DirectorySeparatorChar, prefix.Length) < 0 && !present.Contains(key))
            {
                Entries.TryRemove(key, out _);
            }
        }
    }

    private static Diagnostic Unreadable(string path, string name, string reason) =>
        Diagnostic.Error(StoreCodes.UnreadableFilterFile, $"The filter file '{path}' cannot be read: {reason}", DiagnosticCategory.ResourceUnavailable) with
        {
            Source = path, Filter = name,
        };
}
