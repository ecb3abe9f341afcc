using System.Management.Automation;
using System.Text;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Imports filters into the filter store from libvirt: a filter directory, XML files, or virsh nwfilter-dumpxml output.
/// </summary>
/// <remarks>
/// Import-NwFilter reads filters and defines them all under one lock of the store. A -Path or -LiteralPath that is a
/// directory is read as a libvirt filter directory (such as /etc/libvirt/nwfilter: one NAME.xml per filter; a file
/// whose name does not match its filter is reported). A file, or -Xml text, may hold one or more filter documents one
/// after the other, as virsh nwfilter-dumpxml prints them for several filters.
///
/// Each filter is defined as Set-NwFilter would define it, except that references between the imported filters
/// never warn, and a filter that equals the stored one apart from its UUID is left alone (so importing libvirt's own
/// built-in filters, which libvirt gives new UUIDs, changes nothing). Filters keep the UUIDs they carry; a UUID that
/// conflicts with the store is an error for that filter, unless -DiscardUuid is given, which lets each filter keep
/// the UUID it has in the store (or get a new one).
///
/// Each filter that cannot be read or defined gets its own error; the others are imported.
/// </remarks>
/// <example>
/// <code>Import-NwFilter -Path /etc/libvirt/nwfilter -Verbose</code>
/// <para>Imports every filter of a libvirt host; -Verbose says which were created, updated or unchanged.</para>
/// </example>
/// <example>
/// <code>virsh nwfilter-list --name | ForEach-Object { virsh nwfilter-dumpxml $_ } | Import-NwFilter -DiscardUuid -PassThru</code>
/// <para>Imports the filters of a running libvirt daemon, keeping the UUIDs already in the store.</para>
/// </example>
[Cmdlet(VerbsData.Import, "NwFilter", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FilterDefinition))]
public sealed class ImportNwFilterCommand : NwFilterFileInputCmdlet
{
    private const string XmlSet = "Xml";

    private readonly List<FilterDocument> _documents = [];
    private readonly StringBuilder _xml = new();

    /// <summary>Filter XML: one or more &lt;filter&gt; documents, such as virsh nwfilter-dumpxml output; strings from the
    /// pipeline are joined first.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = XmlSet)]
    [AllowEmptyString]
    public string[] Xml { get; set; } = [];

    /// <summary>Ignore the UUIDs in the imported XML: each filter keeps its UUID in the store, or gets a new one.</summary>
    [Parameter]
    public SwitchParameter DiscardUuid { get; set; }

    /// <summary>Accept unknown XML elements and attributes with a warning, as plain libvirt does.</summary>
    [Parameter]
    public SwitchParameter Lenient { get; set; }

    /// <summary>Return each imported filter as stored.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var options = new XmlReadOptions { Lenient = Lenient };
        switch (ParameterSetName)
        {
            case XmlSet:
                foreach (var text in Xml)
                {
                    _xml.AppendLine(text);
                }
                break;
            case PathSet:
            case LiteralPathSet:
                foreach (var path in ResolveInputPaths())
                {
                    try
                    {
                        _documents.AddRange(Directory.Exists(path)
                            ? LibvirtFilterFiles.ReadDirectory(path, options)
                            : LibvirtFilterFiles.ReadDocuments(NwFilter.Core.Xml.DocumentFile.ReadText(path), path, options));
                    }
                    catch (NwFilter.Core.Xml.DocumentReadException e)
                    {
                        // Bounded like every document read: a FIFO, a device, an over-long file, invalid UTF-8 or a NUL.
                        WriteError(new ErrorRecord(e, e.Diagnostic.Code, ErrorRecords.Map(e.Diagnostic.Category), path)
                        {
                            ErrorDetails = new ErrorDetails(e.Message),
                        });
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        WriteError(new ErrorRecord(e, "FileReadFailed", ErrorCategory.ReadError, path));
                    }
                }
                break;
            default:
                throw new InvalidOperationException("unknown parameter set " + ParameterSetName);
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (ParameterSetName == XmlSet && _xml.ToString() is { } text && !string.IsNullOrWhiteSpace(text))
        {
            _documents.AddRange(LibvirtFilterFiles.ReadDocuments(text, "XML", new XmlReadOptions { Lenient = Lenient }));
        }

        var selected = new List<(FilterDefinition Filter, string Source)>();
        foreach (var document in _documents)
        {
            if (document.Filter is not { } filter)
            {
                WriteError(new NwFilterException(document.Diagnostics), document.Source);
                continue;
            }
            WriteWarnings(document.Diagnostics);
            if (ShouldProcess($"filter '{filter.Name}' from {document.Source}", "Import filter"))
            {
                selected.Add((DiscardUuid ? filter with { Uuid = null } : filter, document.Source));
            }
        }
        if (selected.Count == 0)
        {
            return;
        }

        var runtime = Runtime;
        var host = NewHost();
        var response = host.Run(token => Doors.HandleAsync(runtime,
            new DefineFiltersRequest([.. selected.Select(s => s.Filter)], AllOrNothing: false, SkipUnchanged: true), host, token));
        var results = response.Items;
        if (response.Error is { } failed)
        {
            WriteError(failed, selected.Count == 1 ? selected[0].Source : "import");
            return;
        }
        for (var i = 0; i < results.Length; i++)
        {
            var (result, source) = (results[i], selected[i].Source);
            if (result.Error is { } error)
            {
                var record = ErrorRecords.From(error, source);
                if (error.Primary.Code is StoreCodes.FilterExistsWithOtherUuid or StoreCodes.UuidInUse)
                {
                    record.ErrorDetails.RecommendedAction = "Import with -DiscardUuid to keep the UUIDs the store has.";
                }
                WriteError(record);
                continue;
            }
            var defined = result.Result!;
            WriteWarnings(defined.Warnings);
            WriteVerbose($"{defined.Outcome} filter '{defined.Filter.Name}' from {source}.");
            if (PassThru)
            {
                WriteObject(FilterStoreAccess.ForOutput(defined.Filter));
            }
        }
    }
}
