using System.Management.Automation;
using System.Net.NetworkInformation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Commands;

/// <summary>
/// Resolves a filter tree into its rule instances: each rule with its chain, its priorities and its variables bound.
/// </summary>
/// <remarks>
/// Resolve-NwFilter flattens a filter and every filter it references, depth first, binds the variables (from
/// -Parameter, the MAC address, and the references' own parameters, the caller's values winning as in libvirt),
/// expands list variables into one instance per combination, and sorts the instances in libvirt's order: root chain
/// first, then by rule priority, stable.
///
/// Each RuleInstance shows the filter the rule is written in, its chain (root, mac, arp, ipv4, ...), the chain's
/// priority, the rule's priority, the rule with literal values only, and the variable values it was built from. This
/// is the intermediate form the firewall backends compile (Build-NwFilterRuleset shows the result).
///
/// It reports every missing filter and every unbound variable at once. A filter whose only missing variable is IP
/// resolves to nothing, with a warning: libvirt would learn the address first.
/// </remarks>
/// <example>
/// <code>Resolve-NwFilter clean-traffic -MacAddress 52:54:00:7b:35:93 -Parameter @{ IP = '10.0.0.5' }</code>
/// <para>Shows the 17 rule instances of clean-traffic, chain by chain.</para>
/// </example>
/// <example>
/// <code>Resolve-NwFilter test-eth0 -MacAddress 52:54:00:7b:35:93 -Parameter @{ IP = '10.0.0.5', '10.0.0.6' } | Where-Object CombinationCount -gt 1</code>
/// <para>Shows the rules that a list of two addresses multiplies.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Resolve, "NwFilter", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(RuleInstance))]
public sealed class ResolveNwFilterCommand : NwFilterCmdlet
{
    private const string NameSet = "Name";
    private const string InputObjectSet = "InputObject";

    /// <summary>The name of the filter to resolve (from the filter store, or a built-in filter).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Filter { get; set; } = "";

    /// <summary>A filter to resolve, such as one from ConvertFrom-NwFilterXml; its references are looked up in the store.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public FilterDefinition InputObject { get; set; } = null!;

    /// <summary>The VM's MAC address, such as 52:54:00:7b:35:93; it is the variable MAC unless -Parameter gives one.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [MacAddressTransformation]
    public PhysicalAddress? MacAddress { get; set; }

    /// <summary>The filter's variables as a hashtable, such as @{ IP = '10.0.0.5' }; an array value is a list.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Parameters")]
    [ParameterSetTransformation]
    public ParameterSet Parameter { get; set; } = ParameterSet.Empty;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        object target = ParameterSetName switch
        {
            NameSet => Filter,
            InputObjectSet => InputObject,
            _ => throw new InvalidOperationException("unknown parameter set " + ParameterSetName),
        };
        try
        {
            var store = FilterStoreAccess.Open();
            var resolution = ParameterSetName == NameSet
                ? FilterResolver.Resolve(store, Filter, Parameter, MacAddress)
                : FilterResolver.Resolve(store, InputObject, Parameter, MacAddress);
            if (resolution.Status == ResolutionStatus.NeedsIpLearning)
            {
                var names = resolution.LearnedVariables;
                WriteWarning($"The filter needs the variable {names}, which was not given: it would be learned first (libvirt learns IP). Give it with -Parameter @{{ {(names == "IPV6" ? "IPV6" : "IP")} = '...' }}.");
            }
            WriteObject(resolution.Instances, enumerateCollection: true);
        }
        catch (NwFilterException e)
        {
            WriteError(e, target);
        }
    }
}
