using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Xml;

/// <summary>
/// Reads libvirt's <c>&lt;filter&gt;</c> and <c>&lt;filterbinding&gt;</c> documents into the model. DTDs are
/// prohibited (nothing is expanded or fetched). On failure it throws <see cref="NwFilterException"/> listing every
/// error found, each naming the place (source, line, element, attribute, value). Strict by default: unknown elements
/// and attributes, and what libvirt silently skips although it changes a rule's meaning, are errors;
/// <see cref="XmlReadOptions.Lenient"/> accepts them with warnings, as plain libvirt does.
/// </summary>
internal static class NwFilterXmlReader
{
    /// <summary>Reads a <c>&lt;filter&gt;</c> document.</summary>
    public static ReadResult<FilterDefinition> ReadFilter(string xml, XmlReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(xml);
        return new FilterParser(options ?? XmlReadOptions.Strict).Read(xml);
    }

    /// <summary>Reads a <c>&lt;filter&gt;</c> document from a reader (read to its end).</summary>
    public static ReadResult<FilterDefinition> ReadFilter(TextReader reader, XmlReadOptions? options = null) =>
        ReadFilter(DocumentFile.ReadToEnd(reader, options?.SourceName), options);

    /// <summary>
    /// Reads a <c>&lt;filter&gt;</c> file; diagnostics name the path unless the options name a source. The file is
    /// read with <see cref="DocumentFile.ReadText"/>'s bounds (a <see cref="DocumentReadException"/> when they refuse it).
    /// </summary>
    public static ReadResult<FilterDefinition> ReadFilterFile(string path, XmlReadOptions? options = null) =>
        ReadFilter(DocumentFile.ReadText(path), WithSource(options, path));

    /// <summary>Reads a <c>&lt;filterbinding&gt;</c> document.</summary>
    public static ReadResult<FilterBinding> ReadBinding(string xml, XmlReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(xml);
        return new BindingParser(options ?? XmlReadOptions.Strict).Read(xml);
    }

    /// <summary>Reads a <c>&lt;filterbinding&gt;</c> document from a reader (read to its end).</summary>
    public static ReadResult<FilterBinding> ReadBinding(TextReader reader, XmlReadOptions? options = null) =>
        ReadBinding(DocumentFile.ReadToEnd(reader, options?.SourceName), options);

    /// <summary>Reads a <c>&lt;filterbinding&gt;</c> file; diagnostics name the path unless the options name a source.</summary>
    public static ReadResult<FilterBinding> ReadBindingFile(string path, XmlReadOptions? options = null) =>
        ReadBinding(DocumentFile.ReadText(path), WithSource(options, path));

    /// <summary>Reads either document, by its root element: a <see cref="FilterDefinition"/> or a <see cref="FilterBinding"/>.</summary>
    public static ReadResult<object> ReadDocument(string xml, XmlReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(xml);
        options ??= XmlReadOptions.Strict;
        var probe = new RootProbe(options);
        var root = probe.Load(xml);
        if (root?.Name == "filterbinding")
        {
            var binding = new BindingParser(options).Read(root);
            return new ReadResult<object>(binding.Value, binding.Warnings);
        }
        if (root?.Name == "filter")
        {
            var filter = new FilterParser(options).Read(root);
            return new ReadResult<object>(filter.Value, filter.Warnings);
        }
        return probe.Fail(root);
    }

    /// <summary>Reads either document from a file.</summary>
    public static ReadResult<object> ReadDocumentFile(string path, XmlReadOptions? options = null) =>
        ReadDocument(DocumentFile.ReadText(path), WithSource(options, path));

    private static XmlReadOptions WithSource(XmlReadOptions? options, string path) =>
        (options ?? XmlReadOptions.Strict) is { SourceName: null } o ? o with { SourceName = path } : options!;

    private sealed class RootProbe(XmlReadOptions options) : DocumentParser(options)
    {
        public XmlNode? Load(string xml) => LoadRoot(new StringReader(xml), xml);

        public ReadResult<object> Fail(XmlNode? root)
        {
            if (root is not null)
            {
                Error(XmlDiagnosticCodes.WrongRootElement, $"Expected root element <filter> or <filterbinding>, found <{root.Name}>", root, value: root.Name);
            }
            return Finish<object>(null);
        }
    }
}
