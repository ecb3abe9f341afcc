using System.Collections.Immutable;
using NwFilter.Core.Model;

namespace NwFilter.Core.Resolution;

/// <summary>What resolving a filter tree for an interface gave.</summary>
public enum ResolutionStatus
{
    /// <summary>Every variable was bound: <see cref="Resolution.Instances"/> is complete.</summary>
    Resolved,

    /// <summary>
    /// The only variables missing are <c>IP</c> and/or <c>IPV6</c>, with learning enabled for each (<c>any</c> or
    /// <c>dhcp</c>): the addresses must be learned before the filter can be instantiated (libvirt 5.3 for IP; IPV6 is
    /// NwFilter's, see <see cref="Resolution.LearnIPv6"/>). No instances are given.
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
    /// <summary>Waiting for IP learning: whether <c>IP</c> is the one to learn (it was not given).</summary>
    public bool LearnIPv4 { get; internal init; } = true;
    /// <summary>Waiting for IP learning: whether <c>IPV6</c> is to be learned (it was not given; <c>CTRL_IPV6_LEARNING</c>).</summary>
    public bool LearnIPv6 { get; internal init; }

    /// <summary>Waiting for IP learning: the variables to learn, as a message names them (<c>IP</c>, <c>IPV6</c>, or
    /// <c>IP and IPV6</c>); empty otherwise.</summary>
    public string LearnedVariables => Status != ResolutionStatus.NeedsIpLearning ? "" : (LearnIPv4, LearnIPv6) switch
    {
        (true, true) => "IP and IPV6",
        (false, true) => "IPV6",
        _ => "IP",
    };
}
