using System.Management.Automation;
using System.Text;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Reads libvirt network-filter XML into filter and binding objects.
/// </summary>
/// <remarks>
/// ConvertFrom-NwFilterXml reads libvirt's &lt;filter&gt; documents (what virsh nwfilter-dumpxml prints and what
/// /etc/libvirt/nwfilter holds) and &lt;filterbinding&gt; documents (virsh nwfilter-binding-dumpxml) and returns
/// immutable, typed objects: a FilterDefinition for a filter, a FilterBinding for a binding.
///
/// The XML is read strictly by default, as virsh nwfilter-define --validate does: an unknown element or attribute is
/// an error, because a typo in an attribute name would otherwise silently widen a rule. -Lenient accepts them with a
/// warning, as plain libvirt does. Documents with a DTD or entities are refused. Every problem in a document is
/// reported at once, each naming the file, line, element, attribute and offending value; a document with errors
/// produces no object.
///
/// Input comes from -Xml (strings, also from the pipeline: the lines of Get-Content are joined into documents), from
/// -Path (wildcards) or from -LiteralPath.
/// </remarks>
/// <example>
/// <code>ConvertFrom-NwFilterXml -Xml "&lt;filter name='allow-ssh'&gt;&lt;rule action='accept' direction='in'&gt;&lt;tcp dstportstart='22'/&gt;&lt;/rule&gt;&lt;/filter&gt;"</code>
/// <para>Reads a filter from a string and shows it as an object.</para>
/// </example>
/// <example>
/// <code>Get-ChildItem /etc/libvirt/nwfilter/*.xml | ConvertFrom-NwFilterXml -Lenient | Where-Object Chain -ne root</code>
/// <para>Reads every filter of a libvirt host, the way libvirt itself reads them, and lists those in a sub-chain.</para>
/// </example>
/// <example>
/// <code>Get-Content ./binding.xml | ConvertFrom-NwFilterXml | Select-Object PortDevice, MacAddress, Filter</code>
/// <para>Reads a filter binding; the lines from Get-Content are joined into one document.</para>
/// </example>
[Cmdlet(VerbsData.ConvertFrom, "NwFilterXml", DefaultParameterSetName = XmlSet)]
[OutputType(typeof(FilterDefinition), typeof(FilterBinding))]
public sealed class ConvertFromNwFilterXmlCommand : NwFilterFileInputCmdlet
{
    private const string XmlSet = "Xml";

    private readonly StringBuilder _pending = new();

    /// <summary>The XML text of one or more documents, one after another. Strings from the pipeline are joined first,
    /// so the lines of Get-Content can be piped in.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = XmlSet)]
    [AllowEmptyString]
    public string[] Xml { get; set; } = [];

    /// <summary>Accept unknown elements and attributes with a warning, as plain libvirt does, instead of refusing them.</summary>
    [Parameter]
    public SwitchParameter Lenient { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case XmlSet:
                foreach (var text in Xml)
                {
                    _pending.AppendLine(text);
                }
                break;
            case PathSet:
            case LiteralPathSet:
                foreach (var (file, text) in ReadInputFiles())
                {
                    ReadDocuments(text, file);
                }
                break;
            default:
                throw new InvalidOperationException("unknown parameter set " + ParameterSetName);
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (_pending.Length > 0)
        {
            ReadDocuments(_pending.ToString(), sourceName: null);
        }
    }

    /// <summary>
    /// Reads each document of a text that may hold several, one after another (virsh nwfilter-dumpxml of several
    /// filters, or files concatenated); a text of one document goes to the reader whole, so its errors keep their lines.
    /// </summary>
    private void ReadDocuments(string text, string? sourceName)
    {
        var segments = XmlDocumentStream.Split(text).ToList();
        if (segments.Count <= 1)
        {
            Read(text, sourceName, (object?)sourceName ?? text);
            return;
        }
        foreach (var segment in segments)
        {
            var source = $"{sourceName ?? "XML"} (document at line {segment.Line})";
            if (segment.Error is { } error)
            {
                WriteError(Diagnostic.Error(XmlDiagnosticCodes.MalformedXml, $"{source}: {error}") with { Source = sourceName, Line = segment.Line }, (object?)sourceName ?? segment.Text);
                continue;
            }
            Read(segment.Text, source, (object?)sourceName ?? segment.Text);
        }
    }

    private void Read(string text, string? source, object target)
    {
        try
        {
            var result = NwFilterXmlReader.ReadDocument(text, new XmlReadOptions { Lenient = Lenient, SourceName = source });
            WriteWarnings(result.Warnings);
            WriteObject(result.Value);
        }
        catch (NwFilterException e)
        {
            WriteError(e, target);
        }
    }
}
