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

/// <summary>
/// Zeroes the per-rule counters of bindings.
/// </summary>
/// <remarks>
/// Reset-NwFilterStatistic sets the packet and byte counters of every rule of the bindings' ports to zero, as
/// Get-NwFilterStatistic shows them. On nftables the counters are read and zeroed in one step by the kernel (a rule
/// dump with reset), so nothing counted in between is lost; on EbIpTables each of the port's chains is zeroed with
/// -Z after the counters were read (a packet counted between the read and the reset is lost). The rules themselves
/// are not touched. With -PassThru it returns the values the counters held.
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

/// <summary>The base of the statistic cmdlets: the ports they collect from the pipeline, per namespace, and the runtime call.</summary>
public abstract class NwFilterStatisticCmdlet : NwFilterCmdlet
{
    private readonly Dictionary<string, (string? Namespace, List<string> Ports, bool All)> _byNamespace = new(StringComparer.Ordinal);

    private protected bool Collected => _byNamespace.Values.Any(v => v.All || v.Ports.Count > 0);

    private protected string DescribeCollected() => string.Join("; ", _byNamespace.Values.Select(v =>
        (v.All ? "every binding" : string.Join(", ", v.Ports)) + (v.Namespace is null ? "" : $" in network namespace {v.Namespace}")));

    private protected void Collect(string[] names, string? networkNamespace)
    {
        var ns = Runtime.Namespace(BindingAccess.Namespace(networkNamespace));
        var key = ns ?? "";
        if (!_byNamespace.TryGetValue(key, out var entry))
        {
            entry = (ns, [], false);
        }
        var stored = BindingAccess.StoredPorts(ns);
        foreach (var name in names)
        {
            if (name == "*")
            {
                entry.All = true;
                continue;
            }
            if (Pattern(name) is not { } pattern)
            {
                continue;
            }
            var found = stored.Where(pattern.IsMatch).ToList();
            if (found.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
            {
                WriteError(Diagnostic.Error(ApplyCodes.BindingNotFound, $"No binding for port device '{name}'" + (ns is null ? "." : $" in network namespace {ns}."),
                    DiagnosticCategory.ObjectNotFound), name);
            }
            entry.Ports.AddRange(found.Where(p => !entry.Ports.Contains(p)));
        }
        _byNamespace[key] = entry;
    }

    private protected IEnumerable<RuleStatistic> ReadStatistics(bool reset)
    {
        var runtime = Runtime;
        var results = new List<RuleStatistic>();
        foreach (var (ns, ports, all) in _byNamespace.Values)
        {
            if (!all && ports.Count == 0)
            {
                continue;
            }
            var host = NewHost();
            BindingStatisticsResponse response;
            try
            {
                response = host.Run(token => runtime.HandleAsync(new BindingStatisticsRequest(all ? null : ports, ns, reset), host, token));
            }
            catch (NwFilterException e)
            {
                WriteError(e, ns ?? "firewall");
                continue;
            }
            foreach (var problem in response.Problems)
            {
                if (problem.Severity == DiagnosticSeverity.Warning)
                {
                    WriteWarning(problem.Message);
                }
                else
                {
                    WriteError(problem, (object?)problem.Value ?? ns ?? "firewall");
                }
            }
            results.AddRange(response.Rules);
        }
        return results;
    }
}
