using System.Collections.Immutable;
using System.Management.Automation;
using System.Text;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Commands.Output;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Checks network filters, with their whole reference tree, and reports every problem.
/// </summary>
/// <remarks>
/// Test-NwFilter checks stored filters (-Name, wildcards; every filter by default), filter objects (-InputObject),
/// XML (-Xml) and files (-Path, -LiteralPath) without changing anything. For each filter it returns a
/// FilterTestResult whose Problems list every error and warning found, each with its code, its place (file, line,
/// element, attribute) and the offending value:
///
/// - what the XML reader refuses (unknown elements or attributes, values out of range, bad chain names);
/// - what Set-NwFilter would refuse: an invalid name, a UUID that belongs to another filter, a loop of references;
/// - for the whole tree of referenced filters: every filter that does not exist or cannot be read, and every loop.
///   Set-NwFilter accepts a reference to a missing filter with a warning; here it is an error, since the filter
///   cannot be instantiated until the missing one is defined.
///
/// -Quiet returns only True or False for each filter. Test-NwFilter itself writes no errors for invalid filters;
/// it reports them in its output.
/// </remarks>
/// <example>
/// <code>Test-NwFilter | Where-Object -not IsValid</code>
/// <para>Lists the stored filters that have a problem.</para>
/// </example>
/// <example>
/// <code>(Test-NwFilter -Path ./new-filter.xml).Problems | Format-List Code, Message, Line, Attribute, Value</code>
/// <para>Shows every problem of a filter file before defining it.</para>
/// </example>
/// <example>
/// <code>if (Test-NwFilter -Name test-eth0 -Quiet) { 'usable' }</code>
/// <para>Tests whether test-eth0 and every filter it refers to are usable.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Test, "NwFilter", DefaultParameterSetName = NameSet)]
[OutputType(typeof(FilterTestResult), typeof(bool))]
public sealed class TestNwFilterCommand : NwFilterFileInputCmdlet
{
    private const string NameSet = "Name";
    private const string InputObjectSet = "InputObject";
    private const string XmlSet = "Xml";

    private readonly StringBuilder _xml = new();
    private FilterStore _store = null!;

    /// <summary>The stored filters to test. Wildcards are allowed; the default is every filter.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = NameSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    /// <summary>Filter objects to test, such as those from ConvertFrom-NwFilterXml.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public FilterDefinition[] InputObject { get; set; } = [];

    /// <summary>Filter XML to test: one or more &lt;filter&gt; documents; strings from the pipeline are joined first.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = XmlSet)]
    [AllowEmptyString]
    public string[] Xml { get; set; } = [];

    /// <summary>Read XML leniently, as plain libvirt does: unknown elements and attributes are warnings, not errors.</summary>
    [Parameter(ParameterSetName = XmlSet)]
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public SwitchParameter Lenient { get; set; }

    /// <summary>Return only True (no errors) or False for each filter.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

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
                    TestStored(name);
                }
                break;
            case InputObjectSet:
                foreach (var filter in InputObject)
                {
                    Emit(filter.Name, "object", _store.Check(filter));
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
                    TestDocuments(text, file);
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
            TestDocuments(text, "XML");
        }
    }

    private void TestStored(string name)
    {
        if (!WildcardPattern.ContainsWildcardCharacters(name))
        {
            StoredFilter? filter;
            try
            {
                filter = _store.Get(name);
            }
            catch (NwFilterException e)
            {
                Emit(name, _store.PathOf(name), e.Diagnostics);
                return;
            }
            if (filter is null)
            {
                WriteError(FilterNames.Check(name) ?? FilterStore.NotFound(name), name);
                return;
            }
            Emit(name, filter.Path ?? "built-in", _store.Check(filter.Definition));
            return;
        }
        if (Pattern(name) is not { } pattern)
        {
            return;
        }
        var listing = _store.List();
        foreach (var group in listing.Problems.Where(p => p.Filter is { } f && pattern.IsMatch(f)).GroupBy(p => p.Filter!))
        {
            Emit(group.Key, group.First().Source ?? group.Key, [.. group]);
        }
        foreach (var filter in listing.Filters.Where(f => pattern.IsMatch(f.Name)))
        {
            Emit(filter.Name, filter.Path ?? "built-in", _store.Check(filter.Definition));
        }
    }

    private void TestDocuments(string text, string source)
    {
        foreach (var document in LibvirtFilterFiles.ReadDocuments(text, source, new XmlReadOptions { Lenient = Lenient }))
        {
            var problems = document.Filter is { } filter
                ? [.. document.Diagnostics, .. _store.Check(filter)]
                : document.Diagnostics;
            Emit(document.Filter?.Name ?? document.Diagnostics.FirstOrDefault(d => d.Filter is not null)?.Filter, document.Source, problems);
        }
    }

    private void Emit(string? name, string source, ImmutableArray<Diagnostic> problems)
    {
        var result = new FilterTestResult(name, source, problems);
        WriteObject(Quiet ? result.IsValid : result);
    }
}
