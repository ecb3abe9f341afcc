using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>Writes the filter tree of a filter or binding as a picture: Graphviz DOT or a Mermaid flowchart.</summary>
/// <remarks>
/// Export-NwFilterGraph walks the filter and every filter it references, depth first, and writes one node per filter
/// (its name, chain, chain priority, the number of its own rules and the variables they use) and one edge per
/// reference (labelled with the parameters it passes). For a binding, a node for the port with its MAC and
/// parameters stands above the tree. A referenced filter that does not exist is drawn dashed and marked missing.
///
/// The text goes to the pipeline: `dot -Tsvg` renders DOT, and GitHub renders Mermaid in a mermaid code block.
/// </remarks>
/// <example>
/// <code>Export-NwFilterGraph clean-traffic | dot -Tsvg -o clean-traffic.svg</code>
/// <para>Draws clean-traffic and the built-in filters it references.</para>
/// </example>
/// <example>
/// <code>Export-NwFilterGraph -PortDevice vnet0 -Format Mermaid</code>
/// <para>Writes the filter tree bound to vnet0 as a Mermaid flowchart.</para>
/// </example>
[Cmdlet(VerbsData.Export, "NwFilterGraph", DefaultParameterSetName = NameSet)]
[OutputType(typeof(string))]
public sealed class ExportNwFilterGraphCommand : NwFilterCmdlet
{
    private const string NameSet = "Name";
    private const string InputObjectSet = "InputObject";
    private const string BindingSet = "Binding";

    /// <summary>The filter to draw (from the store, or built in).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = NameSet)]
    [Alias("Filter")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>A filter to draw, such as one from ConvertFrom-NwFilterXml; its references are looked up in the store.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public FilterDefinition InputObject { get; set; } = null!;

    /// <summary>The port device whose binding's filter tree is drawn.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = BindingSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PortDeviceCompleter))]
    public string PortDevice { get; set; } = "";

    /// <summary>The network namespace of the binding (default: the current one).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = BindingSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>Dot (Graphviz, the default) or Mermaid.</summary>
    [Parameter]
    public FilterGraphFormat Format { get; set; } = FilterGraphFormat.Dot;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        object target = ParameterSetName switch
        {
            NameSet => Name,
            InputObjectSet => InputObject,
            BindingSet => PortDevice,
            _ => throw new InvalidOperationException("unknown parameter set " + ParameterSetName),
        };
        try
        {
            var store = FilterStoreAccess.Open();
            string? label = null;
            ParameterSet? parameters = null;
            FilterDefinition? top;
            switch (ParameterSetName)
            {
                case NameSet:
                    top = store.Find(Name);
                    if (top is null)
                    {
                        WriteError(Diagnostic.Error(FilterGraph.FilterNotFoundCode, $"No filter named '{Name}'.", DiagnosticCategory.ObjectNotFound) with { Filter = Name }, Name);
                        return;
                    }
                    break;
                case InputObjectSet:
                    top = InputObject;
                    break;
                case BindingSet:
                    var runtime = Runtime;
                    var host = NewHost();
                    var status = host.Run(token => runtime.HandleAsync(new BindingStatusRequest([PortDevice], BindingAccess.Namespace(NetworkNamespace)), host, token));
                    var binding = status.Bindings.FirstOrDefault(b => b.Binding.PortDevice == PortDevice)?.Binding;
                    if (binding is null)
                    {
                        WriteError(Diagnostic.Error(Core.Apply.ApplyCodes.BindingNotFound, $"No binding on port {PortDevice}.", DiagnosticCategory.ObjectNotFound), PortDevice);
                        return;
                    }
                    label = $"{binding.PortDevice} {MacAddressText.Format(binding.MacAddress)}";
                    parameters = binding.Parameters;
                    top = store.Find(binding.Filter) ?? new FilterDefinition(binding.Filter);
                    if (store.Find(binding.Filter) is null)
                    {
                        WriteWarning($"The binding's filter '{binding.Filter}' does not exist; it is drawn without rules.");
                    }
                    break;
                default:
                    throw new InvalidOperationException("unknown parameter set " + ParameterSetName);
            }
                var graph = FilterGraphExport.Build(store, top, label, parameters);
                WriteObject(FilterGraphExport.Write(graph, Format));
        }
        catch (NwFilterException e)
        {
            WriteError(e, target);
        }
    }
}
