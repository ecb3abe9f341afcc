using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Xml;

/// <summary>
/// Reads libvirt's <c>&lt;filter&gt;</c> and <c>&lt;filterbinding&gt;</c> documents into the model. DTDs are
/// prohibited. On failure it throws <see cref="NwFilterException"/> listing every error found, each naming the
/// place (source, line, element, attribute, value).
/// </summary>
public static class NwFilterXmlReader
{
    /// <summary>Reads a <c>&lt;filter&gt;</c> document.</summary>
    public static ReadResult<FilterDefinition> ReadFilter(string xml, XmlReadOptions? options = null) =>
        throw new NotImplementedException();

    /// <summary>Reads a <c>&lt;filterbinding&gt;</c> document.</summary>
    public static ReadResult<FilterBinding> ReadBinding(string xml, XmlReadOptions? options = null) =>
        throw new NotImplementedException();

    /// <summary>Reads either document, by its root element: a <see cref="FilterDefinition"/> or a <see cref="FilterBinding"/>.</summary>
    public static ReadResult<object> ReadDocument(string xml, XmlReadOptions? options = null) =>
        throw new NotImplementedException();
}
