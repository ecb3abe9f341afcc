using System.Collections.Immutable;
using NwFilter.Core.Model;

namespace NwFilter.Core.Resolution;

/// <summary>What resolving a filter tree for an interface gave.</summary>
public enum ResolutionStatus
{
    /// <summary>Every variable was bound: <see cref="Resolution.Instances"/> is complete.</summary>
    Resolved,

    /// <summary>
    /// Exactly one variable is missing and it is <c>IP</c>, with learning enabled (<c>any</c> or <c>dhcp</c>): the
    /// address must be learned before the filter can be instantiated (libvirt 5.3). No instances are given.
    /// </summary>
    NeedsIpLearning,
}

/// <summary>The resolved rule instances of a filter tree, in libvirt's order.</summary>
/// <param name="Status">Resolved, or waiting for IP learning.</param>
/// <param name="Instances">The rule instances: root chain first, then by rule priority, stable; every combination of a
/// rule's variables is its own instance, adjacent and in iteration order.</param>
/// <param name="IpLearning">The learning mode (<c>CTRL_IP_LEARNING</c>, default <c>any</c>).</param>
/// <param name="Variables">The top-level variable table used (the parameters plus the defaulted MAC).</param>
public sealed record Resolution(ResolutionStatus Status, ImmutableArray<RuleInstance> Instances, IpLearningMode IpLearning, ParameterSet Variables)
{
    /// <summary>Resolved, or waiting for IP learning.</summary>
    public ResolutionStatus Status { get; internal init; } = Status;
    /// <summary>The rule instances: root chain first, then by rule priority, stable; every combination of a rule's variables is its own instance, adjacent and in iteration order.</summary>
    public ImmutableArray<RuleInstance> Instances { get; internal init; } = Instances;
    /// <summary>The learning mode (<c>CTRL_IP_LEARNING</c>, default <c>any</c>).</summary>
    public IpLearningMode IpLearning { get; internal init; } = IpLearning;
    /// <summary>The top-level variable table used (the parameters plus the defaulted MAC).</summary>
    public ParameterSet Variables { get; internal init; } = Variables;
}
