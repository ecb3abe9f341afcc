using System.Collections.Immutable;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Resolution;

/// <summary>A variable access and the value it was bound to in one rule instance (for display).</summary>
/// <param name="Access">The access as written in the rule (<c>$A</c>, <c>$A[@1]</c>, <c>$A[2]</c>).</param>
/// <param name="Value">The canonical value bound.</param>
public sealed record VariableBinding(VariableAccess Access, string Value)
{
    /// <summary>The access as written in the rule (<c>$A</c>, <c>$A[@1]</c>, <c>$A[2]</c>).</summary>
    public VariableAccess Access { get; internal init; } = Access;
    /// <summary>The canonical value bound.</summary>
    public string Value { get; internal init; } = Value;

    /// <inheritdoc/>
    public override string ToString() => $"{Access}={Value}";
}

/// <summary>
/// One rule of a resolved filter tree for one combination of its variables' values: libvirt's rule instance with the
/// variables already bound. Every attribute of <see cref="Rule"/> is a literal.
/// </summary>
/// <param name="FilterName">The filter the rule is written in.</param>
/// <param name="ChainSuffix">That filter's chain (<c>root</c>, <c>arp</c>, <c>ipv4-ip</c>, ...).</param>
/// <param name="ChainPriority">That filter's chain priority.</param>
/// <param name="RulePriority">The rule's own priority, as written.</param>
/// <param name="Rule">The rule, every variable bound to a validated literal.</param>
public sealed record RuleInstance(string FilterName, string ChainSuffix, int ChainPriority, int RulePriority, FilterRule Rule)
{
    /// <summary>The filter the rule is written in.</summary>
    public string FilterName { get; internal init; } = FilterName;
    /// <summary>That filter's chain (<c>root</c>, <c>arp</c>, <c>ipv4-ip</c>, ...).</summary>
    public string ChainSuffix { get; internal init; } = ChainSuffix;
    /// <summary>That filter's chain priority.</summary>
    public int ChainPriority { get; internal init; } = ChainPriority;
    /// <summary>The rule's own priority, as written.</summary>
    public int RulePriority { get; internal init; } = RulePriority;
    /// <summary>The rule, every variable bound to a validated literal.</summary>
    public FilterRule Rule { get; internal init; } = Rule;

    /// <summary>The variable values this instance was built from, in the rule's first-use order (empty without variables).</summary>
    public ImmutableArray<VariableBinding> Bindings { get; internal init; } = [];

    /// <summary>Which combination of the rule's variables this is (0-based), in libvirt's iteration order.</summary>
    public int Combination { get; internal init; }

    /// <summary>How many combinations the rule produced.</summary>
    public int CombinationCount { get; internal init; } = 1;

    /// <summary>True for rules of the root chain (they sort first).</summary>
    public bool IsRootChain => ChainSuffix == FilterDefinition.RootChain;

    /// <summary>
    /// The priority that decides when sub-chains are created: the rule priority raised to the chain priority when that is
    /// higher, except in the root chain (libvirt applies this after sorting, so it never changes the rule order).
    /// </summary>
    public int EffectivePriority =>
        ChainPriority > RulePriority && !FilterDefinition.RootChain.Contains(ChainSuffix, StringComparison.Ordinal)
            ? ChainPriority
            : RulePriority;

    /// <summary>The firewall layer the rule compiles to.</summary>
    public ProtocolLayer Layer => ProtocolSchema.Of(Rule.Protocol).Layer;

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = $"{FilterName}/{ChainSuffix} {RulePriority} {Rule.Action.ToString().ToLowerInvariant()} {Rule.Direction.ToString().ToLowerInvariant()} {ProtocolSchema.Of(Rule.Protocol).ElementName}";
        return Bindings.IsEmpty ? text : text + " [" + string.Join(", ", Bindings) + "]";
    }
}
