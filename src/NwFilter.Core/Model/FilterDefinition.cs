using System.Collections.Immutable;

namespace NwFilter.Core.Model;

/// <summary>
/// A network filter: libvirt's <c>&lt;filter&gt;</c> document. Immutable; readers and writers live elsewhere
/// (<c>NwFilter.Core.Xml</c>).
/// </summary>
/// <param name="Name">The filter's name.</param>
public sealed record FilterDefinition(string Name)
{
    /// <summary>The filter's name.</summary>
    public string Name { get; internal init; } = Name;

    /// <summary>The chain suffix every rule of this filter lands in (<c>root</c>, or one starting with mac, vlan, stp, arp, rarp, ipv4, ipv6).</summary>
    public const string RootChain = "root";

    /// <summary>The filter's UUID; null when the document had none (a store generates one on define).</summary>
    public Guid? Uuid { get; internal init; }

    /// <summary>The chain suffix (<c>chain=</c>); <c>root</c> when absent.</summary>
    public string Chain { get; internal init; } = RootChain;

    /// <summary>The chain priority in [-1000, 1000]: the given one, or the chain prefix's default.</summary>
    public int Priority { get; internal init; }

    /// <summary>Rules and filter references, in document order.</summary>
    public ImmutableArray<FilterEntry> Entries { get; internal init; } = [];

    /// <summary>The rules, in document order.</summary>
    public IEnumerable<FilterRule> Rules => Entries.OfType<FilterRule>();

    /// <summary>The references to other filters, in document order.</summary>
    public IEnumerable<FilterReference> References => Entries.OfType<FilterReference>();

    /// <inheritdoc/>
    public bool Equals(FilterDefinition? other) =>
        other is not null && Name == other.Name && Uuid == other.Uuid && Chain == other.Chain &&
        Priority == other.Priority && Entries.SequenceEqual(other.Entries);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Uuid, Chain, Priority, Entries.Length);
}

/// <summary>An entry of a filter: a <see cref="FilterRule"/> or a <see cref="FilterReference"/>.</summary>
public abstract record FilterEntry;

/// <summary>A <c>&lt;filterref filter='NAME'&gt;</c>: include another filter, with parameters.</summary>
/// <param name="Filter">The referenced filter's name.</param>
public sealed record FilterReference(string Filter) : FilterEntry
{
    /// <summary>The referenced filter's name.</summary>
    public string Filter { get; internal init; } = Filter;

    /// <summary>The <c>&lt;parameter&gt;</c>s given to the referenced filter.</summary>
    public ParameterSet Parameters { get; internal init; } = ParameterSet.Empty;
}

/// <summary>
/// One rule: an action, a direction, a priority and at most one protocol with its attributes.
/// </summary>
/// <param name="Action">What to do with a match.</param>
/// <param name="Direction">Which traffic the rule applies to.</param>
/// <param name="Protocol">The protocol element; <see cref="ProtocolKind.None"/> matches everything in the chain.</param>
public sealed record FilterRule(RuleAction Action, RuleDirection Direction, ProtocolKind Protocol) : FilterEntry
{
    /// <summary>What to do with a match.</summary>
    public RuleAction Action { get; internal init; } = Action;
    /// <summary>Which traffic the rule applies to.</summary>
    public RuleDirection Direction { get; internal init; } = Direction;
    /// <summary>The protocol element; <see cref="ProtocolKind.None"/> matches everything in the chain.</summary>
    public ProtocolKind Protocol { get; internal init; } = Protocol;

    /// <summary>The default rule priority (libvirt's MAX_RULE_PRIORITY / 2).</summary>
    public const int DefaultPriority = 500;

    /// <summary>The rule priority in [-1000, 1000]; lower runs first.</summary>
    public int Priority { get; internal init; } = DefaultPriority;

    /// <summary>False when written <c>statematch='false'</c>: no connection-state matching for this rule.</summary>
    public bool StateMatch { get; internal init; } = true;

    /// <summary>The attributes that are present, in the protocol's table order.</summary>
    public ImmutableArray<RuleAttribute> Attributes { get; internal init; } = [];

    /// <summary>The value of an attribute, or <see cref="AttributeValue.Absent"/>.</summary>
    public AttributeValue this[AttributeId id]
    {
        get
        {
            foreach (var a in Attributes)
            {
                if (a.Id == id)
                {
                    return a.Value;
                }
            }
            return AttributeValue.Absent;
        }
    }

    /// <inheritdoc/>
    public bool Equals(FilterRule? other) =>
        other is not null && Action == other.Action && Direction == other.Direction && Protocol == other.Protocol &&
        Priority == other.Priority && StateMatch == other.StateMatch && Attributes.SequenceEqual(other.Attributes);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Action, Direction, Protocol, Priority, StateMatch, Attributes.Length);
}

/// <summary>One present attribute of a rule.</summary>
/// <param name="Id">Which attribute.</param>
/// <param name="Value">Its value (never absent).</param>
public sealed record RuleAttribute(AttributeId Id, AttributeValue Value)
{
    /// <summary>Which attribute.</summary>
    public AttributeId Id { get; internal init; } = Id;
    /// <summary>Its value (never absent).</summary>
    public AttributeValue Value { get; internal init; } = Value;
}
