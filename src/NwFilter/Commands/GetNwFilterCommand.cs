using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Gets network filters from the filter store: the filters you defined and NwFilter's built-in filters.
/// </summary>
/// <remarks>
/// Get-NwFilter returns the filters of the current user's store (for root /etc/nwfilter, otherwise
/// $XDG_DATA_HOME/nwfilter; the NWFILTER_CONFIG_DIR environment variable overrides both) as FilterDefinition objects,
/// sorted by name. Each carries an Origin note property: BuiltIn for one of the filters NwFilter ships (the 24 with the same
/// names and rules as libvirt's, such as clean-traffic, and NwFilter's own nwfilter-* filters), Defined for a filter you defined, Redefined for a definition
/// that shadows a built-in filter of the same name.
///
/// Without parameters it returns every filter. -Name takes wildcards; a name without wildcards that matches no filter
/// is an error (FilterNotFound). -Uuid finds filters by UUID. A stored file that cannot be read is reported as an
/// error naming the file, and the other filters are still returned.
///
/// -AsXml returns each filter's canonical XML instead, exactly what virsh nwfilter-dumpxml prints.
/// </remarks>
/// <example>
/// <code>Get-NwFilter</code>
/// <para>Lists every filter, built-in and defined.</para>
/// </example>
/// <example>
/// <code>Get-NwFilter -Name 'no-*-spoofing' | Select-Object Name, Chain, Priority, Origin</code>
/// <para>Shows the anti-spoofing filters and the chains they land in.</para>
/// </example>
/// <example>
/// <code>Get-NwFilter clean-traffic -AsXml</code>
/// <para>Prints the clean-traffic filter as libvirt XML.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "NwFilter", DefaultParameterSetName = NameSet)]
[OutputType(typeof(FilterDefinition), ParameterSetName = [NameSet, UuidSet])]
[OutputType(typeof(string))]
public sealed class GetNwFilterCommand : NwFilterCmdlet
{
    private const string NameSet = "Name";
    private const string UuidSet = "Uuid";

    private FilterStore _store = null!;
    private FilterListing? _listing;

    /// <summary>The names of the filters to get. Wildcards are allowed; the default is every filter.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = NameSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    /// <summary>The UUIDs of the filters to get.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = UuidSet)]
    public Guid[] Uuid { get; set; } = [];

    /// <summary>Return each filter's canonical XML (what virsh nwfilter-dumpxml prints) instead of objects.</summary>
    [Parameter]
    public SwitchParameter AsXml { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing() => _store = FilterStoreAccess.Open();

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case NameSet:
                foreach (var name in Name)
                {
                    GetByName(name);
                }
                break;
            case UuidSet:
                foreach (var uuid in Uuid)
                {
                    var found = Listing().Filters.FirstOrDefault(f => f.Uuid == uuid);
                    if (found is null)
                    {
                        WriteError(Diagnostic.Error(StoreCodes.FilterNotFound, $"No filter has the uuid {uuid}.", DiagnosticCategory.ObjectNotFound) with
                        {
                            Value = uuid.ToString(),
                        }, uuid);
                    }
                    else
                    {
                        Write(found);
                    }
                }
                break;
            default:
                throw new InvalidOperationException("unknown parameter set " + ParameterSetName);
        }
    }

    private void GetByName(string name)
    {
        if (!WildcardPattern.ContainsWildcardCharacters(name))
        {
            try
            {
                if (_store.Get(name) is { } one)
                {
                    Write(one);
                    return;
                }
            }
            catch (NwFilterException e)
            {
                WriteError(e, name);
                return;
            }
            var diagnostic = FilterNames.Check(name) ?? FilterStore.NotFound(name);
            WriteError(diagnostic, name);
            return;
        }
        if (Pattern(name) is not { } pattern)
        {
            return;
        }
        var listing = Listing();
        foreach (var problem in listing.Problems.Where(p => p.Filter is { } f && pattern.IsMatch(f)))
        {
            WriteError(problem, problem.Source);
        }
        foreach (var filter in listing.Filters.Where(f => pattern.IsMatch(f.Name)))
        {
            Write(filter);
        }
    }

    private FilterListing Listing() => _listing ??= _store.List();

    private void Write(StoredFilter filter)
    {
        if (AsXml)
        {
            WriteObject(NwFilterXmlWriter.Write(filter.Definition));
        }
        else
        {
            WriteObject(FilterStoreAccess.ForOutput(filter));
        }
    }
}
