using System.Xml;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;
using static NwFilter.Core.Xml.XmlDiagnosticCodes;

namespace NwFilter.Core.Xml;

/// <summary>
/// One read of one document: collects every diagnostic, then the caller throws them together or returns the value
/// with the warnings. Shared by the filter and the binding grammar.
/// </summary>
internal abstract class DocumentParser
{
    private readonly List<Diagnostic> _diagnostics = [];

    protected DocumentParser(XmlReadOptions options) => Options = options;

    protected XmlReadOptions Options { get; }

    /// <summary>The filter name (or binding port) diagnostics are attributed to, once known.</summary>
    protected string? Subject { get; set; }

    protected bool HasErrors { get; private set; }

    /// <summary>Loads the root element, or reports why not (malformed XML, a DTD).</summary>
    protected XmlNode? LoadRoot(TextReader text, string? sourceText)
    {
        if (sourceText is not null && sourceText.Length > Limits.MaxDocumentChars)
        {
            Report(DocumentFile.TooLarge(null, $"{sourceText.Length:N0} characters"));
            return null;
        }
        try
        {
            return XmlNode.Load(text);
        }
        catch (XmlNode.NestingTooDeepException ex)
        {
            Report(Diagnostic.Error(NestingTooDeep,
                $"Elements are nested more than {Limits.MaxElementDepth} deep (the nwfilter grammar needs 4); the document is refused.")
                with { Line = ex.LineNumber, Column = ex.LinePosition });
            return null;
        }
        catch (XmlException ex)
        {
            var dtd = sourceText is not null ? sourceText.Contains("<!DOCTYPE", StringComparison.Ordinal) : ex.Message.Contains("DTD", StringComparison.Ordinal);
            var line = ex.LineNumber > 0 ? ex.LineNumber : (int?)null;
            var column = ex.LinePosition > 0 ? ex.LinePosition : (int?)null;
            if (dtd && sourceText is not null)
            {
                var at = sourceText.IndexOf("<!DOCTYPE", StringComparison.Ordinal);
                line = 1 + sourceText.AsSpan(0, at).Count('\n');
                var lineStart = at == 0 ? 0 : sourceText.LastIndexOf('\n', at - 1) + 1;
                column = at - lineStart + 1;
            }
            Report(dtd
                ? Diagnostic.Error(DtdProhibited, "The document has a document type declaration (DTD); DTDs and entities are not allowed") with { Line = line, Column = column }
                : Diagnostic.Error(MalformedXml, "Malformed XML: " + Explain(ex)) with { Line = line, Column = column });
            return null;
        }
    }

    /// <summary>
    /// The reader's message, said plainly where it can be: a mismatched end tag names the tag expected and where each
    /// tag is (line and column), such as "the end tag &lt;/rul&gt; does not close &lt;rule&gt; (line 2, column 4); expected &lt;/rule&gt;".
    /// </summary>
    private static string Explain(XmlException ex)
    {
        var mismatch = System.Text.RegularExpressions.Regex.Match(ex.Message,
            @"The '(?<start>[^']+)' start tag on line (?<l>\d+) position (?<p>\d+) does not match the end tag of '(?<end>[^']+)'");
        if (!mismatch.Success)
        {
            return ex.Message;
        }
        var start = mismatch.Groups["start"].Value;
        // Where the end tag is comes from the diagnostic's location (its line and column); where the start tag is, here.
        return $"the end tag </{mismatch.Groups["end"].Value}> does not close <{start}> (line {mismatch.Groups["l"].Value}, column {mismatch.Groups["p"].Value}); expected </{start}>.";
    }

    protected void Report(Diagnostic d)
    {
        if (d.Severity == DiagnosticSeverity.Error)
        {
            HasErrors = true;
        }
        _diagnostics.Add(d with { Source = d.Source ?? Options.SourceName, Filter = d.Filter ?? Subject });
    }

    protected void Error(string code, string message, XmlNode node, string? attribute = null, string? value = null, int? line = null, int? column = null) =>
        Report(Diagnostic.Error(code, message) with
        {
            Line = line ?? node.Line,
            Column = column ?? node.Column,
            Element = node.Name,
            Attribute = attribute,
            Value = value,
        });

    protected void Error(string code, string message, XmlNode node, XmlAttr attr) =>
        Error(code, message, node, attr.Name, attr.Value, attr.Line, attr.Column);

    /// <summary>
    /// Something plain libvirt ignores silently but that may change a rule's meaning: an error when strict, a warning
    /// (and libvirt's behaviour) when lenient.
    /// </summary>
    protected void StrictError(string code, string message, XmlNode node, string? attribute = null, string? value = null, int? line = null, int? column = null)
    {
        var d = new Diagnostic(Options.Lenient ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error, code, message)
        {
            Line = line ?? node.Line,
            Column = column ?? node.Column,
            Element = node.Name,
            Attribute = attribute,
            Value = value,
        };
        Report(d);
    }

    protected void StrictError(string code, string message, XmlNode node, XmlAttr attr) =>
        StrictError(code, message, node, attr.Name, attr.Value, attr.Line, attr.Column);

    protected void Warn(string code, string message, XmlNode node, string? attribute = null, string? value = null) =>
        Report(Diagnostic.Warning(code, message) with { Line = node.Line, Column = node.Column, Element = node.Name, Attribute = attribute, Value = value });

    /// <summary>Reports every attribute of <paramref name="node"/> that is not in <paramref name="known"/>.</summary>
    protected void CheckAttributes(XmlNode node, params string[] known)
    {
        foreach (var a in node.Attributes)
        {
            if (Array.IndexOf(known, a.Name) < 0)
            {
                StrictError(UnknownAttribute, $"Unknown attribute '{a.Name}' on <{node.Name}>", node, a);
            }
        }
    }

    protected void UnknownChild(XmlNode parent, XmlNode child) =>
        StrictError(UnknownElement, $"Unknown element <{child.Name}> in <{parent.Name}>", child);

    /// <summary>Reports non-white-space text directly inside an element whose grammar has none.</summary>
    protected void CheckNoText(XmlNode node)
    {
        if (node.TextPosition is { } pos)
        {
            StrictError(UnexpectedText, $"Unexpected text in <{node.Name}>", node, null, node.Text?.Trim(), pos.Line, pos.Column);
        }
    }

    /// <summary>The result: the value with its warnings, or an <see cref="NwFilterException"/> with every diagnostic.</summary>
    protected ReadResult<T> Finish<T>(T? value) where T : class
    {
        if (HasErrors || value is null)
        {
            var ordered = _diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)
                .Concat(_diagnostics.Where(d => d.Severity != DiagnosticSeverity.Error));
            throw new NwFilterException(ordered);
        }
        return new ReadResult<T>(value, [.. _diagnostics]);
    }

    /// <summary>
    /// Parses a <c>&lt;filterref&gt;</c>'s <c>&lt;parameter&gt;</c> children (filters and bindings share it).
    /// libvirt skips a parameter without both attributes, or with a bad name or value, silently.
    /// </summary>
    protected ParameterSet ReadParameters(XmlNode filterref)
    {
        List<KeyValuePair<string, string>>? pairs = null;
        foreach (var p in filterref.Children)
        {
            if (p.Name != "parameter")
            {
                UnknownChild(filterref, p);
                continue;
            }
            CheckAttributes(p, "name", "value");
            CheckNoText(p);
            foreach (var c in p.Children)
            {
                UnknownChild(p, c);
            }
            var name = p.Attribute("name");
            var value = p.Attribute("value");
            if (name is null || value is null)
            {
                StrictError(MissingAttribute, $"<parameter> requires both name and value; libvirt skips it",
                    p, name is null ? "name" : "value");
                continue;
            }
            // libvirt does not reject an empty name here (only names with bad characters).
            if (name.Value.Value.Length > 0 && !ValueParser.IsValidVariableName(name.Value.Value))
            {
                StrictError(InvalidParameter, $"Parameter name '{name.Value.Value}' is not [A-Za-z0-9_]+; libvirt skips the parameter", p, name.Value);
                continue;
            }
            if (name.Value.Value.Length == 0)
            {
                StrictError(InvalidParameter, "Parameter name is empty", p, name.Value);
                if (!Options.Lenient)
                {
                    continue;
                }
            }
            if (!ValueParser.IsValidParameterValue(value.Value.Value))
            {
                StrictError(InvalidParameter, $"Parameter value '{value.Value.Value}' of '{name.Value.Value}' is not [A-Za-z0-9_.:]+; libvirt skips the parameter", p, value.Value);
                continue;
            }
            (pairs ??= []).Add(KeyValuePair.Create(name.Value.Value, value.Value.Value));
        }
        return pairs is null ? ParameterSet.Empty : ParameterSet.FromPairs(pairs);
    }

    /// <summary>The first child named <paramref name="name"/>; later ones are reported as duplicates.</summary>
    protected XmlNode? SingleChild(XmlNode parent, string name)
    {
        XmlNode? first = null;
        foreach (var c in parent.Children)
        {
            if (c.Name != name)
            {
                continue;
            }
            if (first is null)
            {
                first = c;
            }
            else
            {
                StrictError(DuplicateElement, $"<{name}> is given more than once in <{parent.Name}>; only the first counts", c);
            }
        }
        return first;
    }
}
