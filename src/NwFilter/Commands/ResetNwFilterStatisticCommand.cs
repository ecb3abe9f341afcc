using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>
/// Zeroes the per-rule counters of bindings.
/// </summary>
/// <remarks>
/// Reset-NwFilterStatistic sets the packet and byte counters of every rule of the bindings' ports to zero, as
/// Get-NwFilterStatistic shows them. The rules themselves are not touched. With -PassThru it returns the values the
/// counters held.
///
/// The kernel reads and zeroes each chain's counters in one step (a rule dump with reset, on nftables and on the
/// nftables-based ebtables/iptables tools alike), so nothing counted in between is lost. With legacy xtables tools each
/// of the port's chains is zeroed with -Z after the read instead.
/// </remarks>
/// <example>
/// <code>Reset-NwFilterStatistic vnet0 -Confirm:$false</code>
/// <para>Zeroes the counters of vnet0's rules.</para>
/// </example>
/// <example>
/// <code>Get-NwFilterBinding | Reset-NwFilterStatistic -PassThru -Confirm:$false | Export-Csv counters.csv</code>
/// <para>Saves every rule's counters and starts counting afresh.</para>
/// </example>
[Cmdlet(VerbsCommon.Reset, "NwFilterStatistic", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(RuleStatistic))]
public sealed class ResetNwFilterStatisticCommand : NwFilterStatisticCmdlet
{
    /// <summary>The port devices whose counters are zeroed. Wildcards are allowed; the default is every binding.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PortDeviceCompleter))]
    public string[] PortDevice { get; set; } = ["*"];

    /// <summary>The network namespace of the bindings (default: NWFILTER_NETNS, else the host's own).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>Returns the values the counters held before they were zeroed.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord() => Collect(PortDevice, NetworkNamespace);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (!Collected)
        {
            return;
        }
        if (!ShouldProcess(DescribeCollected(), "Reset the per-rule counters"))
        {
            return;
        }
        foreach (var rule in ReadStatistics(reset: true))
        {
            if (PassThru)
            {
                WriteObject(rule);
            }
        }
    }
}
