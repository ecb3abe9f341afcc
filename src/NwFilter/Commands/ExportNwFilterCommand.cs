using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Exports filters to a directory in libvirt's layout: one NAME.xml per filter.
/// </summary>
/// <remarks>
/// Export-NwFilter writes each filter's canonical XML, exactly what virsh nwfilter-dumpxml prints, to
/// DESTINATION/NAME.xml: the layout of libvirt's /etc/libvirt/nwfilter, which Import-NwFilter reads back. Each file is
/// written atomically. The directory is created if needed.
///
/// It exports the filters named by -Name (wildcards; every filter by default) or piped in. -ExcludeBuiltIn leaves out
/// the built-in filters that are not redefined. An existing file with other content is not overwritten without
/// -Force (FileExists); one with the same content is left alone.
///
/// Note that libvirtd reads /etc/libvirt/nwfilter only when it starts; to hand filters to a running libvirt, use
/// virsh nwfilter-define on the exported files.
/// </remarks>
/// <example>
/// <code>Export-NwFilter -Destination ./backup -ExcludeBuiltIn</code>
/// <para>Saves every filter you defined to ./backup.</para>
/// </example>
/// <example>
/// <code>Get-NwFilter 'web-*' | Export-NwFilter -Destination /tmp/for-libvirt -PassThru | ForEach-Object { virsh nwfilter-define $_.FullName }</code>
/// <para>Hands the web filters to libvirt.</para>
/// </example>
[Cmdlet(VerbsData.Export, "NwFilter", DefaultParameterSetName = NameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FileInfo))]
public sealed class ExportNwFilterCommand : NwFilterCmdlet
{
    private const string NameSet = "Name";
    private const string InputObjectSet = "InputObject";

    private FilterStore _store = null!;
    private string _destination = "";

    /// <summary>The filters to export. Wildcards are allowed; the default is every filter.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = NameSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    /// <summary>Filters to export, such as those from Get-NwFilter or ConvertFrom-NwFilterXml.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public FilterDefinition[] InputObject { get; set; } = [];

    /// <summary>The directory to write to (created if needed).</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Leave out the built-in filters that are not redefined.</summary>
    [Parameter(ParameterSetName = NameSet)]
    public SwitchParameter ExcludeBuiltIn { get; set; }

    /// <summary>Overwrite files that exist with other content.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Return each file written.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing()
    {
        _store = FilterStoreAccess.Open();
        _destination = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Destination);
    }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case NameSet:
                foreach (var name in Name)
                {
                    if (WildcardPattern.ContainsWildcardCharacters(name))
                    {
                        if (Pattern(name) is not { } pattern)
                        {
                            continue;
                        }
                        var listing = _store.List();
                        foreach (var problem in listing.Problems.Where(p => p.Filter is { } f && pattern.IsMatch(f)))
                        {
                            WriteError(problem, problem.Source);
                        }
                        foreach (var f in listing.Filters.Where(f => pattern.IsMatch(f.Name) && !(ExcludeBuiltIn && f.IsBuiltIn)))
                        {
                            Export(f.Definition, f.Name);
                        }
                        continue;
                    }
                    try
                    {
                        if (_store.Get(name) is { } found)
                        {
                            if (!(ExcludeBuiltIn && found.IsBuiltIn))
                            {
                                Export(found.Definition, name);
                            }
                        }
                        else
                        {
                            WriteError(FilterNames.Check(name) ?? FilterStore.NotFound(name), name);
                        }
                    }
                    catch (NwFilterException e)
                    {
                        WriteError(e, name);
                    }
                }
                break;
            case InputObjectSet:
                foreach (var filter in InputObject)
                {
                    Export(filter, filter);
                }
                break;
            default:
                throw new InvalidOperationException("unknown parameter set " + ParameterSetName);
        }
    }

    private void Export(FilterDefinition filter, object target)
    {
        if (FilterNames.Check(filter.Name) is { } bad)
        {
            WriteError(bad, target);
            return;
        }
        var path = System.IO.Path.Combine(_destination, FilterNames.FileName(filter.Name));
        var xml = NwFilterXmlWriter.Write(filter);
        try
        {
            if (File.Exists(path))
            {
                if (File.ReadAllText(path) == xml)
                {
                    WriteVerbose($"'{path}' is up to date.");
                    Emit(path);
                    return;
                }
                if (!Force)
                {
                    WriteError(new ErrorRecord(
                        new IOException($"The file '{path}' exists with other content; use -Force to overwrite it."),
                        "FileExists", ErrorCategory.ResourceExists, path));
                    return;
                }
            }
            if (!ShouldProcess(path, $"Export filter '{filter.Name}'"))
            {
                return;
            }
            LibvirtFilterFiles.WriteDirectory(_destination, [filter]);
            Emit(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(new ErrorRecord(e, "FileWriteFailed", e is UnauthorizedAccessException ? ErrorCategory.PermissionDenied : ErrorCategory.WriteError, path));
        }
    }

    private void Emit(string path)
    {
        if (PassThru)
        {
            WriteObject(new FileInfo(path));
        }
    }
}
