using System.Management.Automation;
using System.Text;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Defines a network filter in the filter store, or updates one.
/// </summary>
/// <remarks>
/// Set-NwFilter creates or replaces filters, as virsh nwfilter-define does. The filter comes from libvirt XML (-Xml,
/// -Path, -LiteralPath; a text may hold several filter documents, as virsh nwfilter-dumpxml prints them), from
/// FilterDefinition objects (-InputObject, or the pipeline), or from parameters (-Name with -Chain, -Priority,
/// -FilterRef, -Rule, -Uuid).
///
/// With parameters, a filter that exists keeps what you do not give: for example -Priority alone changes only the
/// chain priority. -FilterRef and -Rule replace the filter's references and rules; the filter then lists its
/// references first and its rules after them. A -Chain without -Priority takes the chain's default priority.
///
/// The rules are libvirt's: a filter without a UUID gets a new one, or keeps its UUID when it exists; a UUID that
/// belongs to another filter is refused (UuidInUse), and so is a new UUID for an existing name
/// (FilterExistsWithOtherUuid). A definition that would make filters reference each other in a loop is refused
/// (FilterLoop), and the message spells the loop out, such as 'a -> b -> c -> a'. A reference to a filter that does
/// not exist yet is accepted with a warning.
///
/// Defining a filter with the name of a built-in filter (such as clean-traffic) shadows the built-in one until you
/// remove it with Remove-NwFilter. Defining a filter exactly as it already is changes nothing.
///
/// XML is read strictly: an unknown element or attribute is an error, since a typo would silently widen a rule.
/// -Lenient accepts them with a warning, as plain libvirt does.
///
/// The filters of one text (the -Xml strings, or one file) are defined all or none: when one of its documents does not
/// read (trailing garbage, a bad attribute) or is refused (a loop among them), none of them is stored.
/// </remarks>
/// <example>
/// <code>Set-NwFilter -Name test-eth0 -FilterRef clean-traffic -Rule @(
///     New-NwFilterRule accept in tcp -Attribute @{ dstportstart = 22 }
///     New-NwFilterRule accept in tcp -Attribute @{ dstportstart = 80 }
///     New-NwFilterRule accept out icmp
///     New-NwFilterRule drop inout all
/// )</code>
/// <para>Defines the filter of libvirt's documentation example: clean traffic, SSH and HTTP in, ICMP out, nothing else.</para>
/// </example>
/// <example>
/// <code>Set-NwFilter -Path ./filters/*.xml -PassThru</code>
/// <para>Defines every filter in the folder and returns them as stored.</para>
/// </example>
/// <example>
/// <code>Get-NwFilter test-eth0 | Set-NwFilter -Priority 100 -WhatIf</code>
/// <para>Shows what changing a filter's chain priority would do, without doing it.</para>
/// </example>
/// <example>
/// <code>Set-NwFilter -Name web -FilterRef @{ Filter = 'clean-traffic'; IP = '10.0.0.5', '10.0.0.6' }</code>
/// <para>Defines a filter that refers to clean-traffic with a list of two IP addresses.</para>
/// </example>
[Cmdlet(VerbsCommon.Set, "NwFilter", DefaultParameterSetName = ParametersSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FilterDefinition))]
public sealed class SetNwFilterCommand : NwFilterFileInputCmdlet
{
    private const string ParametersSet = "Parameters";
    private const string InputObjectSet = "InputObject";
    private const string XmlSet = "Xml";

    private readonly StringBuilder _xml = new();
    private FilterStore _store = null!;

    /// <summary>The filter's name. With other parameters, the filter to create or update.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = ParametersSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>The chain the filter's rules land in: root (the default), or a name starting with mac, vlan, stp, arp,
    /// rarp, ipv4 or ipv6, at most 12 characters.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(ChainCompleter))]
    public string Chain { get; set; } = FilterDefinition.RootChain;

    /// <summary>The chain priority, -1000 to 1000 (lower runs first); without it a chain takes its default (mac -800,
    /// vlan -750, ipv4 -700, ipv6 -600, arp -500, rarp -400, root and stp 0).</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(-1000, 1000)]
    public int Priority { get; set; }

    /// <summary>The filters this filter includes, in order: names, hashtables such as
    /// @{ Filter = 'clean-traffic'; IP = '10.0.0.1' } (a list value repeats the parameter), or FilterReference objects.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [FilterReferenceTransformation]
    [AllowEmptyCollection]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public FilterReference[] FilterRef { get; set; } = [];

    /// <summary>The filter's rules, in order, as New-NwFilterRule makes them.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [AllowEmptyCollection]
    public FilterRule[] Rule { get; set; } = [];

    /// <summary>The filter's UUID. Without it a new filter gets a random one and an existing filter keeps its own.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    public Guid Uuid { get; set; }

    /// <summary>Filters to define, such as those from Get-NwFilter or ConvertFrom-NwFilterXml.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public FilterDefinition[] InputObject { get; set; } = [];

    /// <summary>Libvirt filter XML: one or more &lt;filter&gt; documents. Strings from the pipeline (such as the lines from
    /// Get-Content) are joined first.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = XmlSet)]
    [AllowEmptyString]
    public string[] Xml { get; set; } = [];

    /// <summary>Accept unknown XML elements and attributes with a warning, as plain libvirt does, instead of refusing them.</summary>
    [Parameter(ParameterSetName = XmlSet)]
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public SwitchParameter Lenient { get; set; }

    /// <summary>Return each filter as stored (with its UUID).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing() => _store = FilterStoreAccess.Open();

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case ParametersSet:
                if (FromParameters() is { } built)
                {
                    Define([(built, Name)], Name);
                }
                break;
            case InputObjectSet:
                foreach (var filter in InputObject)
                {
                    Define([(filter, filter)], filter);
                }
                break;
            case XmlSet:
                foreach (var text in Xml)
                {
                    _xml.AppendLine(text);
                }
                break;
            case PathSet:
            case LiteralPathSet:
                foreach (var (file, text) in ReadInputFiles())
                {
                    DefineDocuments(text, file);
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
            DefineDocuments(text, "XML");
        }
    }

    /// <summary>
    /// Defines the filters of a text all or none: a document that does not read (trailing garbage, a bad attribute)
    /// or a filter the store refuses (a loop among them) leaves the store as it was.
    /// </summary>
    private void DefineDocuments(string text, string source)
    {
        var documents = LibvirtFilterFiles.ReadDocuments(text, source, new XmlReadOptions { Lenient = Lenient }).ToList();
        var failed = documents.Where(d => d.Filter is null).ToList();
        foreach (var document in failed)
        {
            WriteError(new NwFilterException(document.Diagnostics), document.Source);
        }
        if (failed.Count > 0)
        {
            if (documents.Count > failed.Count)
            {
                WriteVerbose($"No filter of {source} was defined: {failed.Count} of its {documents.Count} documents cannot be read.");
            }
            return;
        }
        foreach (var document in documents)
        {
            WriteWarnings(document.Diagnostics);
        }
        Define([.. documents.Select(d => (d.Filter!, (object)d.Source))], source);
    }

    private FilterDefinition? FromParameters()
    {
        var bound = MyInvocation.BoundParameters;
        StoredFilter? existing = null;
        try
        {
            existing = _store.Get(Name);
        }
        catch (NwFilterException)
        {
            // An unreadable stored file is replaced as if it were absent.
        }
        var current = existing?.Definition;
        var chain = bound.ContainsKey(nameof(Chain)) ? Chain : current?.Chain ?? FilterDefinition.RootChain;
        // A new chain without a priority takes the chain's default: the writer leaves 0 out and the reader supplies it.
        var priority = bound.ContainsKey(nameof(Priority)) ? Priority : bound.ContainsKey(nameof(Chain)) ? 0 : current?.Priority ?? 0;
        var entries = current?.Entries ?? [];
        if (bound.ContainsKey(nameof(FilterRef)) || bound.ContainsKey(nameof(Rule)))
        {
            IEnumerable<FilterEntry> references = bound.ContainsKey(nameof(FilterRef)) ? FilterRef : current?.References ?? [];
            IEnumerable<FilterEntry> rules = bound.ContainsKey(nameof(Rule)) ? Rule : current?.Rules ?? [];
            entries = [.. references, .. rules];
        }
        return new FilterDefinition(Name)
        {
            Uuid = bound.ContainsKey(nameof(Uuid)) ? Uuid : null,
            Chain = chain,
            Priority = priority,
            Entries = entries,
        };
    }

    /// <summary>Defines the filters the user confirms, all or none; <paramref name="whole"/> is the target of an error that is no one filter's.</summary>
    private void Define(IReadOnlyList<(FilterDefinition Filter, object Target)> filters, object whole)
    {
        var confirmed = filters.Where(f => ShouldProcess($"filter '{f.Filter.Name}' in {_store.Directory}", _store.Exists(f.Filter.Name) ? "Update filter" : "Create filter")).ToList();
        if (confirmed.Count == 0)
        {
            return;
        }
        var runtime = Runtime;
        var host = NewHost();
        var response = host.Run(token => Doors.HandleAsync(runtime, new DefineFiltersRequest([.. confirmed.Select(c => c.Filter)], AllOrNothing: true), host, token));
        if (response.Error is { } error)
        {
            var culprit = confirmed.FirstOrDefault(c => c.Filter.Name == error.Primary.Filter);
            WriteError(error, confirmed.Count == 1 ? confirmed[0].Target : culprit.Target ?? whole);
            return;
        }
        foreach (var item in response.Items)
        {
            var result = item.Result!;
            WriteWarnings(result.Warnings);
            WriteVerbose($"{result.Outcome} filter '{result.Filter.Name}' ({result.Filter.Uuid}).");
            if (PassThru)
            {
                WriteObject(FilterStoreAccess.ForOutput(result.Filter));
            }
        }
    }
}
