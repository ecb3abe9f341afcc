using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>
/// Shows how many packets and bytes each rule of a binding matched in the kernel.
/// </summary>
/// <remarks>
/// Get-NwFilterStatistic reads the kernel's per-rule counters of the bindings' ports and maps each kernel rule back to
/// the filter rule it came from: one object per rule and kernel chain, with Packets, Bytes, Filter, Priority, Action,
/// Direction, Chain and the PortDevice (a rule that became several kernel rules, such as an inout rule's two directions
/// or a layer-4 rule's three chains, shows once per chain, its copies in that chain added up).
///
/// On the EbIpTables backend the counters are those ebtables, iptables and ip6tables keep for every rule (read with
/// the save tools' -c): every binding has them, and its rules stay exactly libvirt's. On nftables a rule counts only
/// when its binding has counters: Invoke-NwFilterBinding -Counters, or 'counters = on' in nwfilter.conf (or
/// NWFILTER_COUNTERS=on) for bindings that do not say; each rule then carries a counter statement, which costs a little
/// per packet (bench/README.md). An nftables binding without counters is reported (StatisticsOff).
///
/// Reset-NwFilterStatistic zeroes the counters.
/// </remarks>
/// <example>
/// <code>Get-NwFilterStatistic vnet0 | Where-Object Packets -gt 0</code>
/// <para>Shows the rules of vnet0's binding that matched something.</para>
/// </example>
/// <example>
/// <code>Get-NwFilterBinding | Get-NwFilterStatistic | Where-Object Action -eq Drop | Sort-Object Packets -Descending</code>
/// <para>Shows which dropping rules of all bindings dropped the most.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "NwFilterStatistic")]
[OutputType(typeof(RuleStatistic))]
public sealed class GetNwFilterStatisticCommand : NwFilterStatisticCmdlet
{
    /// <summary>The port devices whose counters are read. Wildcards are allowed; the default is every binding.</summary>
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

    /// <inheritdoc/>
    protected override void ProcessRecord() => Collect(PortDevice, NetworkNamespace);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        foreach (var rule in ReadStatistics(reset: false))
        {
            WriteObject(rule);
        }
    }
}
