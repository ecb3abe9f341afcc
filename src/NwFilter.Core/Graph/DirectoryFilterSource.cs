using System.Collections.Concurrent;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Graph;

/// <summary>
/// Filters read from <c>&lt;name&gt;.xml</c> files in one folder (libvirt's test harness loads filterrefs this way).
/// Each file is read once, on first use. A file that exists but does not parse throws the reader's
/// <see cref="NwFilterException"/> (so does one the bounded reader refuses: a FIFO, too large, not UTF-8); a missing file is simply "no such filter".
/// </summary>
internal sealed class DirectoryFilterSource : IFilterSource
{
    private readonly ConcurrentDictionary<string, FilterDefinition?> _cache = new(StringComparer.Ordinal);
    private readonly Func<string, string, FilterDefinition> _read;

    /// <param name="directory">The folder holding the <c>.xml</c> files.</param>
    /// <param name="read">Reads one document (text, source name); the XML reader by default.</param>
    public DirectoryFilterSource(string directory, Func<string, string, FilterDefinition>? read = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
        _read = read ?? ((xml, source) => NwFilterXmlReader.ReadFilter(xml, XmlReadOptions.LenientDefault with { SourceName = source }).Value);
    }

    /// <summary>The folder read from.</summary>
    public string Directory { get; }

    public FilterDefinition? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _cache.GetOrAdd(name, Load);
    }

    private FilterDefinition? Load(string name)
    {
        // A name is a file name here, never a path: refuse anything that could leave the folder.
        if (name.Length == 0 || name.IndexOfAny(['/', '\\', '\0']) >= 0 || name is "." or "..")
        {
            return null;
        }
        var path = Path.Combine(Directory, name + ".xml");
        if (!File.Exists(path))
        {
            return null;
        }
        string text;
        try
        {
            text = DocumentFile.ReadText(path);
        }
        catch (DocumentReadException e)
        {
            throw new NwFilterException(e.Diagnostic, e);
        }
        return _read(text, path);
    }
}
