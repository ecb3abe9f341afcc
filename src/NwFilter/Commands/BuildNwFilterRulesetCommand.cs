using System.Management.Automation;
using System.Net.NetworkInformation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Commands;

/// <summary>
/// Compiles a filter for one interface into the exact firewall commands libvirt would run, without running them.
/// </summary>
/// <remarks>
/// Build-NwFilterRuleset resolves the filter tree (references, variables, lists) for the port device with the given
/// MAC address and parameters, then plans it with the firewall backend, as libvirt's ebtables/iptables driver does.
/// It touches nothing on the host and needs no root.
///
/// The result is a Ruleset: its Instances are the resolved rule instances (Resolve-NwFilter shows them alone), its
/// Commands the commands in execution order, each with Program and Arguments, and it prints as shell lines, the same
/// commands libvirt logs for such a binding on a host without libvirt's chains.
///
/// A filter that needs the variable IP gets it from -Parameter; without it the ruleset waits for IP address learning,
/// has no commands, and a warning says so. The filter is a name from the filter store (or a built-in filter), or a
/// FilterDefinition from the pipeline, whose references are looked up in the store.
/// </remarks>
/// <example>
/// <code>Build-NwFilterRuleset -Filter clean-traffic -PortDevice vnet0 -MacAddress 52:54:00:7b:35:93 -Parameter @{ IP = '10.0.0.5' }</code>
/// <para>Prints the ebtables commands libvirt runs to bind clean-traffic to vnet0.</para>
/// </example>
/// <example>
/// <code>(Build-NwFilterRuleset test-eth0 vnet0 52:54:00:7b:35:93 -Parameter @{ IP = '10.0.0.5', '10.0.0.6' }).Commands | Group-Object Program -NoElement</code>
/// <para>Counts the commands per program for a filter bound with a list of two IP addresses.</para>
/// </example>
/// <example>
/// <code>ConvertFrom-NwFilterXml -Path ./web.xml | Build-NwFilterRuleset -PortDevice vnet3 -MacAddress 52:54:00:00:00:03</code>
/// <para>Compiles a filter that is not in the store yet.</para>
/// </example>
[Cmdlet(BuildVerb, "NwFilterRuleset", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(Ruleset))]
public sealed class BuildNwFilterRulesetCommand : NwFilterCmdlet
{
    /// <summary>VerbsLifecycle.Build, approved since PowerShell 6; PowerShellStandard.Library 5.1 lacks the constant.</summary>
    private const string BuildVerb = "Build";

    private const string NameSet = "Name";
    private const string InputObjectSet = "InputObject";

    /// <summary>The name of the filter to compile (from the filter store, or a built-in filter).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Filter { get; set; } = "";

    /// <summary>A filter to compile, such as one from ConvertFrom-NwFilterXml; its references are looked up in the store.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public FilterDefinition InputObject { get; set; } = null!;

    /// <summary>The interface the rules are for (the VM's port device, such as vnet0); it is part of every chain name.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string PortDevice { get; set; } = "";

    /// <summary>The VM's MAC address on that interface, such as 52:54:00:7b:35:93; it is the variable MAC unless -Parameter gives one.</summary>
    [Parameter(Position = 2, ValueFromPipelineByPropertyName = true)]
    [MacAddressTransformation]
    public PhysicalAddress? MacAddress { get; set; }

    /// <summary>The filter's variables as a hashtable, such as @{ IP = '10.0.0.5'; DHCPSERVER = '10.0.0.1' }; an array value is a list.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Parameters")]
    [ParameterSetTransformation]
    public ParameterSet Parameter { get; set; } = ParameterSet.Empty;

    /// <summary>The firewall backend: EbIpTables (ebtables, iptables and ip6tables, as libvirt).</summary>
    [Parameter]
    public FirewallBackendKind Backend { get; set; } = FirewallBackendKind.EbIpTables;

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
            var ruleset = ParameterSetName == NameSet
                ? RulesetBuilder.Build(store, Filter, PortDevice, MacAddress, Parameter, Backend)
                : RulesetBuilder.Build(store, InputObject, PortDevice, MacAddress, Parameter, Backend);
            if (ruleset.NeedsIpLearning)
            {
                var names = ruleset.Resolution.LearnedVariables;
                WriteWarning($"The filter needs the variable {names} for {PortDevice}, which was not given: it would be learned first (libvirt learns IP), so the ruleset " +
                    $"has no commands. Give it with -Parameter @{{ {(names == "IPV6" ? "IPV6" : "IP")} = '...' }}.");
            }
            WriteObject(ruleset);
        }
        catch (NwFilterException e)
        {
            WriteError(e, target);
        }
    }
}
