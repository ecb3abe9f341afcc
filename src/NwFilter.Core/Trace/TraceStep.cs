using System.Collections.Immutable;
using NwFilter.Core.Model;

namespace NwFilter.Core.Trace;

/// <summary>What a matched rule (or the whole trace) did with the packet.</summary>
public enum TraceVerdict
{
    /// <summary>Accepted: the rest of this hook's chains are skipped (at the end of a trace: the packet passes).</summary>
    Accept,
    /// <summary>Dropped (also a <c>reject</c> at the Ethernet layer, which neither ebtables nor nft's bridge family can reject).</summary>
    Drop,
    /// <summary>Dropped with an answer to the sender (layer 4 only).</summary>
    Reject,
    /// <summary>Back to the calling chain (an accept in FI/HI/FJ/HJ is a return: the packet still meets FO/FP).</summary>
    Return,
    /// <summary>Matched, no verdict: the next rule is consulted.</summary>
    Continue,
}

/// <summary>What a trace step is.</summary>
public enum TraceStepKind
{
    /// <summary>A rule considered (matched or not).</summary>
    Rule,
    /// <summary>A jump into a filter's sub-chain (<c>mac</c>, <c>arp</c>, <c>ipv4-ip</c>, ...) that the packet's protocol takes.</summary>
    Jump,
    /// <summary>The packet's fate: always the last step of a trace.</summary>
    Decision,
}

/// <summary>
/// One step of a packet trace: a rule the packet met in the port's chains (with whether and how it matched), a
/// sub-chain entered, or, last, the decision. The chains are named as the nftables backend names them (I, I-arp, O,
/// FI, FO, HI; ebtables/iptables: libvirt-I-IF, I-IF-arp, libvirt-O-IF, FJ-IF, FP-IF, HJ-IF).
/// </summary>
public sealed record TraceStep
{
    /// <summary>The step's number in the trace, from 1.</summary>
    public int Step { get; internal init; }

    /// <summary>For a trace of several packets (a pcap file), which packet, from 1.</summary>
    public int Packet { get; internal init; } = 1;

    /// <summary>The port traced (its binding's port device), or null for a filter traced without a binding.</summary>
    public string? PortDevice { get; internal init; }

    /// <summary>To or from the VM.</summary>
    public TraceDirection PacketDirection { get; internal init; }

    /// <summary>The chain (I, O, I-arp, FI, FO, HI, ...).</summary>
    public string Chain { get; internal init; } = "";

    /// <summary>Rule, Jump, or Decision.</summary>
    public TraceStepKind Kind { get; internal init; }

    /// <summary>What the rule did: null when it did not match. For the decision: Accept, Drop or Reject.</summary>
    public TraceVerdict? Verdict { get; internal init; }

    /// <summary>The filter the rule is written in (for the decision: the deciding rule's, or null when the chains ended).</summary>
    public string? Filter { get; internal init; }

    /// <summary>The rule's priority (a jump: the sub-chain's priority).</summary>
    public int? Priority { get; internal init; }

    /// <summary>The rule's direction (in, out, inout).</summary>
    public RuleDirection? Direction { get; internal init; }

    /// <summary>The rule's action as written.</summary>
    public RuleAction? Action { get; internal init; }

    /// <summary>The rule as XML, every variable bound (the decision: the deciding rule's), or null.</summary>
    public string? Rule { get; internal init; }

    /// <summary>Why: the first field that did not match, or what the match or decision means.</summary>
    public string Reason { get; internal init; } = "";

    /// <summary>The packet traced.</summary>
    public TracePacket? Subject { get; internal init; }

    /// <summary>True when the rule matched the packet.</summary>
    public bool Matched => Verdict is not null;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Step} {Chain} {Kind} {(Verdict?.ToString() ?? "-")} {Filter} {Priority} {Reason}";
}

/// <summary>A whole trace: the steps, the last of which is the decision.</summary>
/// <param name="Steps">The steps in the order the packet met them.</param>
public sealed record TraceResult(ImmutableArray<TraceStep> Steps)
{
    /// <summary>The steps in the order the packet met them.</summary>
    public ImmutableArray<TraceStep> Steps { get; internal init; } = Steps;

    /// <summary>The decision step (the last).</summary>
    public TraceStep Decision => Steps[^1];

    /// <summary>The packet's fate: Accept, Drop or Reject.</summary>
    public TraceVerdict Verdict => Decision.Verdict!.Value;
}
