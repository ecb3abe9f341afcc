using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Store;

/// <summary>One filter document read for an import: the filter, or why it could not be read.</summary>
/// <param name="Source">Where it came from: a file, or a stream and the line the document starts on.</param>
/// <param name="Filter">The filter; null when the document did not parse.</param>
/// <param name="Diagnostics">The reader's warnings, or the errors that refused the document.</param>
internal sealed record FilterDocument(string Source, FilterDefinition? Filter, ImmutableArray<Diagnostic> Diagnostics)
{
    public bool Succeeded => Filter is not null;
}

/// <summary>
/// Moving filters between NwFilter and libvirt: a libvirt filter directory (<c>/etc/libvirt/nwfilter</c>: one
/// <c>&lt;name&gt;.xml</c> per filter, the same XML), and the output of <c>virsh nwfilter-dumpxml</c>, which may be
/// several filter documents one after the other (with comments or XML declarations between them).
/// </summary>
internal static class LibvirtFilterFiles
{
    /// <summary>libvirt's system filter directory.</summary>
    public const string SystemDirectory = "/etc/libvirt/nwfilter";

    /// <summary>
    /// Reads every <c>*.xml</c> of a libvirt filter directory. A file whose name does not match
    /// its filter's name is reported (libvirt ignores such files too). Sorted by filter name (ordinal).
    /// </summary>
    public static ImmutableArray<FilterDocument> ReadDirectory(string directory, XmlReadOptions? options = null)
    {
        var result = ImmutableArray.CreateBuilder<FilterDocument>();
        foreach (var path in System.IO.Directory.EnumerateFiles(directory, "*.xml").OrderBy(Path.GetFileNameWithoutExtension, StringComparer.Ordinal))
        {
            var document = ReadFile(path, options);
            var expected = Path.GetFileNameWithoutExtension(path);
            if (document.Filter is { } f && f.Name != expected)
            {
                document = new FilterDocument(path, null,
                [
                    Diagnostic.Error(
                        StoreCodes.FilterFileNameMismatch,
                        $"The file '{path}' holds the filter '{f.Name}', not '{expected}'.") with { Source = path, Filter = f.Name, Value = f.Name },
                ]);
            }
            result.Add(document);
        }
        return result.ToImmutable();
    }

    /// <summary>Reads a file that holds one or more filter documents.</summary>
    public static FilterDocument ReadFile(string path, XmlReadOptions? options = null)
    {
        var documents = ReadDocuments(DocumentFile.ReadText(path), path, options);
        return documents.Length == 1
            ? documents[0]
            : new FilterDocument(path, null,
            [
                Diagnostic.Error(
                    StoreCodes.UnreadableDocument,
                    documents.Length == 0 ? $"The file '{path}' holds no <filter> document." : $"The file '{path}' holds {documents.Length} filter documents; expected one.") with
                {
                    Source = path,
                },
            ]);
    }

    /// <summary>
    /// Reads one or more <c>&lt;filter&gt;</c> documents that follow one another in <paramref name="text"/> (the output of
    /// <c>virsh nwfilter-dumpxml</c> for several filters, or files concatenated). Text outside the documents may only
    /// be whitespace, comments, XML declarations and processing instructions; anything else is reported.
    /// </summary>
    /// <param name="text">The stream's text.</param>
    /// <param name="sourceName">Its name in diagnostics.</param>
    /// <param name="options">How each document is read (<see cref="XmlReadOptions.SourceName"/> is set per document).</param>
    public static ImmutableArray<FilterDocument> ReadDocuments(string text, string sourceName, XmlReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = ImmutableArray.CreateBuilder<FilterDocument>();
        foreach (var segment in XmlDocumentStream.Split(text))
        {
            var source = segment.Line == 1 && segment.IsWholeText ? sourceName : $"{sourceName} (document at line {segment.Line})";
            if (segment.Error is { } error)
            {
                result.Add(new FilterDocument(source, null,
                [
                    // The same id as the XML reader's for malformed text (ConvertFrom-NwFilterXml says the same).
                    Diagnostic.Error(XmlDiagnosticCodes.MalformedXml, $"{source}: {error}") with { Source = sourceName, Line = segment.Line },
                ]));
                continue;
            }
            try
            {
                var read = NwFilterXmlReader.ReadFilter(segment.Text, (options ?? XmlReadOptions.Strict) with { SourceName = source });
                result.Add(new FilterDocument(source, read.Value, read.Warnings));
            }
            catch (NwFilterException e)
            {
                result.Add(new FilterDocument(source, null, e.Diagnostics));
            }
        }
        return result.ToImmutable();
    }

    /// <summary>
    /// Writes each filter's canonical XML to <c>&lt;directory&gt;/&lt;name&gt;.xml</c> (atomically), creating the
    /// directory; returns the paths written, in order.
    /// </summary>
    public static ImmutableArray<string> WriteDirectory(string directory, IEnumerable<FilterDefinition> filters)
    {
        ArgumentNullException.ThrowIfNull(filters);
        System.IO.Directory.CreateDirectory(directory);
        var written = ImmutableArray.CreateBuilder<string>();
        foreach (var filter in filters)
        {
            var path = Path.Combine(directory, FilterNames.FileName(filter.Name));
            AtomicFile.WriteAllText(path, NwFilterXmlWriter.Write(filter));
            written.Add(path);
        }
        return written.ToImmutable();
    }
}
