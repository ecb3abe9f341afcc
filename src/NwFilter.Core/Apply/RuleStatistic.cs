using NwFilter.Core.Backends;
using NwFilter.Core.Model;

namespace NwFilter.Core.Apply;

/// <summary>
/// What one rule of a binding counted in the kernel (Get-NwFilterStatistic): the packets and bytes the rule matched
/// (the rule's kernel rules added up: its reversed copies and layer-4 copies), in one chain of the port.
/// </summary>
/// <param name="PortDevice">The port.</param>
/// <param name="Filter">The filter the rule is in.</param>
/// <param name="Priority">The rule's priority.</param>
/// <param name="Action">The rule's action.</param>
/// <param name="Direction">The rule's direction.</param>
/// <param name="Chain">The kernel chain the packets were counted in, by its role (<c>I</c>, <c>O-ipv4</c>, <c>FI</c>, ...; libvirt's names on EbIpTables: <c>libvirt-I-vnet0</c>, <c>FJ-vnet0</c>).</param>
/// <param name="Packets">Packets matched since the rule was applied or the counters were reset.</param>
/// <param name="Bytes">Their bytes (as the hook sees them: the Ethernet frame on the bridge, the IP packet in FI/FO/HI).</param>
public sealed record RuleStatistic(string PortDevice, string Filter, int Priority, RuleAction Action, RuleDirection Direction, string Chain, long Packets, long Bytes)
{
    /// <summary>The port.</summary>
    public string PortDevice { get; internal init; } = PortDevice;
    /// <summary>The filter the rule is in.</summary>
    public string Filter { get; internal init; } = Filter;
    /// <summary>The rule's priority.</summary>
    public int Priority { get; internal init; } = Priority;
    /// <summary>The rule's action.</summary>
    public RuleAction Action { get; internal init; } = Action;
    /// <summary>The rule's direction.</summary>
    public RuleDirection Direction { get; internal init; } = Direction;
    /// <summary>The kernel chain, by role.</summary>
    public string Chain { get; internal init; } = Chain;
    /// <summary>Packets matched.</summary>
    public long Packets { get; internal init; } = Packets;
    /// <summary>Bytes matched.</summary>
    public long Bytes { get; internal init; } = Bytes;

    /// <summary>The network namespace of the binding (null: the host's own).</summary>
    public string? NetworkNamespace { get; internal init; }

    /// <summary>The backend that applied the rule.</summary>
    public FirewallBackendKind Backend { get; internal init; }

    /// <summary>The rule's index in the binding's resolution (the provenance ordinal; rules of one filter in several places differ by it).</summary>
    public int Ordinal { get; internal init; }

    /// <summary>The rule's canonical XML, variables bound.</summary>
    public string Rule { get; internal init; } = "";

    /// <summary>How many kernel rules the rule became in this chain (copies of one rule count together).</summary>
    public int KernelRules { get; internal init; }
}
