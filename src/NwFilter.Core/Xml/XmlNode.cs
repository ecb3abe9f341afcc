using System.Text;
using System.Xml;

namespace NwFilter.Core.Xml;

/// <summary>An attribute as read, with its position.</summary>
internal readonly record struct XmlAttr(string Name, string Value, int Line, int Column);

/// <summary>
/// A light, read-only element tree: just what the nwfilter grammar needs (names, attributes, child elements, text,
/// positions). Built by one forward pass of a hardened <see cref="XmlReader"/>.
/// </summary>
internal sealed class XmlNode
{
    private static readonly List<XmlAttr> NoAttributes = [];
    private static readonly List<XmlNode> NoChildren = [];

    public XmlNode(string name, int line, int column)
    {
        Name = name;
        Line = line;
        Column = column;
    }

    public string Name { get; }
    public int Line { get; }
    public int Column { get; }
    public List<XmlAttr> Attributes { get; private set; } = NoAttributes;
    public List<XmlNode> Children { get; private set; } = NoChildren;

    /// <summary>The element's own text (text and CDATA children, concatenated), or null.</summary>
    public string? Text { get; private set; }

    /// <summary>The first non-white-space text position, for diagnostics.</summary>
    public (int Line, int Column)? TextPosition { get; private set; }

    public XmlAttr? Attribute(string name)
    {
        foreach (var a in Attributes)
        {
            if (a.Name == name)
            {
                return a;
            }
        }
        return null;
    }

    public string? AttributeValue(string name) => Attribute(name)?.Value;

    /// <summary>The XPath string value: all descendant text, in document order.</summary>
    public string StringValue()
    {
        if (Children.Count == 0)
        {
            return Text ?? "";
        }
        var sb = new StringBuilder();
        AppendText(sb);
        return sb.ToString();
    }

    private void AppendText(StringBuilder sb)
    {
        // Text interleaving with children is not kept; for the grammar's leaf elements this is exact.
        sb.Append(Text);
        foreach (var c in Children)
        {
            c.AppendText(sb);
        }
    }

    private static readonly XmlReaderSettings Settings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
        IgnoreWhitespace = false,
        CloseInput = true,
        MaxCharactersInDocument = Diagnostics.Limits.MaxDocumentChars,
    };

    /// <summary>Elements nested deeper than <see cref="Diagnostics.Limits.MaxElementDepth"/>: refused before the tree grows.</summary>
    internal sealed class NestingTooDeepException(int line, int column)
        : XmlException($"Elements are nested more than {Diagnostics.Limits.MaxElementDepth} deep.", null, line, column);

    /// <summary>
    /// Reads the document's root element. Throws <see cref="XmlException"/> for malformed XML or a DTD, and
    /// <see cref="NestingTooDeepException"/> at the first element deeper than <see cref="Diagnostics.Limits.MaxElementDepth"/>
    /// (the tree is built by recursion, one frame per level: the limit keeps a hostile document from overflowing the stack).
    /// </summary>
    public static XmlNode Load(TextReader text)
    {
        using var reader = XmlReader.Create(text, Settings);
        var info = (IXmlLineInfo)reader;
        while (reader.Read())
        {
            if (reader.NodeType == XmlNodeType.Element)
            {
                var root = ReadElement(reader, info);
                // Read to the end so that trailing garbage is reported, as libxml2 does.
                while (reader.Read())
                {
                }
                return root;
            }
        }
        throw new XmlException("The document has no root element.");
    }

    private static XmlNode ReadElement(XmlReader reader, IXmlLineInfo info)
    {
        var node = new XmlNode(reader.Name, info.LineNumber, info.LinePosition);
        if (reader.MoveToFirstAttribute())
        {
            node.Attributes = new List<XmlAttr>(reader.AttributeCount);
            do
            {
                node.Attributes.Add(new XmlAttr(reader.Name, reader.Value, info.LineNumber, info.LinePosition));
            }
            while (reader.MoveToNextAttribute());
            reader.MoveToElement();
        }
        if (reader.IsEmptyElement)
        {
            return node;
        }
        StringBuilder? text = null;
        string? single = null;
        while (reader.Read())
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Element:
                    if (reader.Depth >= Diagnostics.Limits.MaxElementDepth)
                    {
                        throw new NestingTooDeepException(info.LineNumber, info.LinePosition);
                    }
                    if (node.Children == NoChildren)
                    {
                        node.Children = [];
                    }
                    node.Children.Add(ReadElement(reader, info));
                    break;
                case XmlNodeType.Text:
                case XmlNodeType.CDATA:
                case XmlNodeType.Whitespace:
                case XmlNodeType.SignificantWhitespace:
                    if (node.TextPosition is null && reader.NodeType is XmlNodeType.Text or XmlNodeType.CDATA &&
                        !string.IsNullOrWhiteSpace(reader.Value))
                    {
                        node.TextPosition = (info.LineNumber, info.LinePosition);
                    }
                    if (single is null && text is null)
                    {
                        single = reader.Value;
                    }
                    else
                    {
                        text ??= new StringBuilder(single);
                        text.Append(reader.Value);
                    }
                    break;
                case XmlNodeType.EndElement:
                    node.Text = text?.ToString() ?? single;
                    return node;
            }
        }
        node.Text = text?.ToString() ?? single;
        return node;
    }
}
