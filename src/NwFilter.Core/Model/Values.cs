using System.Net;
using System.Net.NetworkInformation;

namespace NwFilter.Core.Model;

/// <summary>
/// A literal attribute value, parsed as one of its attribute's datatypes.
/// <see cref="Text"/> is the canonical form the writer prints (libvirt's <c>nwfilter-dumpxml</c>);
/// the typed payload is what compilers use.
/// </summary>
/// <param name="Type">The datatype that parsed the value (exactly one flag).</param>
/// <param name="Text">The canonical text: <c>0x16</c> for a hex number, <c>01:02:03:04:05:06</c> for a MAC,
/// a prefix length for a mask, a symbolic name as written in canonical case.</param>
public sealed record TypedValue(DataType Type, string Text)
{
    /// <summary>The datatype that parsed the value (exactly one flag).</summary>
    public DataType Type { get; internal init; } = Type;
    /// <summary>The canonical text: <c>0x16</c> for a hex number, <c>01:02:03:04:05:06</c> for a MAC, a prefix length for a mask, a symbolic name as written in canonical case.</summary>
    public string Text { get; internal init; } = Text;

    /// <summary>The numeric meaning: numbers, a mask's prefix length, a symbolic name's value, a boolean as 0 or 1.</summary>
    public ulong Number { get; internal init; }

    /// <summary>The address of an IPv4 or IPv6 address value.</summary>
    public IPAddress? Address { get; internal init; }

    /// <summary>The address of a MAC address or MAC mask value.</summary>
    public PhysicalAddress? Mac { get; internal init; }

    /// <summary>True when the value was written as a symbolic name (<c>arp</c>, <c>Request</c>, <c>tcp</c>).</summary>
    public bool IsSymbolic { get; internal init; }

    /// <inheritdoc/>
    public override string ToString() => Text;
}

/// <summary>How a variable reference picks its value out of a list.</summary>
public enum VariableAccessKind
{
    /// <summary><c>$V</c> or <c>$V[@n]</c>: the value advances with iterator n.</summary>
    Iterator,
    /// <summary><c>$V[n]</c>: always element n.</summary>
    Element,
}

/// <summary>A reference to a variable in an attribute value: <c>$V</c>, <c>$V[@n]</c> or <c>$V[n]</c>.</summary>
/// <param name="Name">The variable's name (<c>[A-Za-z0-9_]+</c>).</param>
/// <param name="Kind">Iterator or fixed element access.</param>
/// <param name="Index">The iterator id (0..1000) or the element index.</param>
public sealed record VariableAccess(string Name, VariableAccessKind Kind, int Index)
{
    /// <summary>The variable's name (<c>[A-Za-z0-9_]+</c>).</summary>
    public string Name { get; internal init; } = Name;
    /// <summary>Iterator or fixed element access.</summary>
    public VariableAccessKind Kind { get; internal init; } = Kind;
    /// <summary>The iterator id (0..1000) or the element index.</summary>
    public int Index { get; internal init; } = Index;

    /// <summary>The canonical form: <c>$V</c> for iterator 0, <c>$V[@n]</c>, <c>$V[n]</c>.</summary>
    public override string ToString() => Kind switch
    {
        VariableAccessKind.Iterator when Index == 0 => "$" + Name,
        VariableAccessKind.Iterator => $"${Name}[@{Index}]",
        _ => $"${Name}[{Index}]",
    };
}

/// <summary>What an attribute of a rule holds: nothing, a literal or a variable reference.</summary>
public enum AttributeValueKind
{
    /// <summary>The attribute is not given.</summary>
    Absent,
    /// <summary>A literal value, parsed to one of the attribute's datatypes.</summary>
    Literal,
    /// <summary>A variable reference (<c>$NAME</c>, <c>$NAME[@1]</c>), bound at instantiation.</summary>
    Variable,
}

/// <summary>
/// The value of one attribute of a rule: absent, a typed literal or a variable reference, possibly negated
/// (<c>match='no'</c>). Variables are bound later, by resolution; the model never substitutes them.
/// </summary>
public sealed record AttributeValue
{
    private AttributeValue(AttributeValueKind kind, bool negated, TypedValue? literal, VariableAccess? variable)
    {
        Kind = kind;
        Negated = negated;
        Literal = literal;
        Variable = variable;
    }

    /// <summary>The attribute is not given.</summary>
    public static AttributeValue Absent { get; } = new(AttributeValueKind.Absent, false, null, null);

    /// <summary>A literal value, negated (<c>!</c>) or not.</summary>
    public static AttributeValue Of(TypedValue literal, bool negated = false) =>
        new(AttributeValueKind.Literal, negated, literal ?? throw new ArgumentNullException(nameof(literal)), null);

    /// <summary>A variable reference, negated (<c>!</c>) or not.</summary>
    public static AttributeValue Of(VariableAccess variable, bool negated = false) =>
        new(AttributeValueKind.Variable, negated, null, variable ?? throw new ArgumentNullException(nameof(variable)));

    /// <summary>Whether the attribute is absent, a literal or a variable.</summary>
    public AttributeValueKind Kind { get; }

    /// <summary>True when the rule matches packets that do <em>not</em> have this value.</summary>
    public bool Negated { get; }

    /// <summary>The literal, when <see cref="Kind"/> is literal.</summary>
    public TypedValue? Literal { get; }

    /// <summary>The variable reference, when <see cref="Kind"/> is variable.</summary>
    public VariableAccess? Variable { get; }

    /// <summary>True when the attribute is given.</summary>
    public bool IsPresent => Kind != AttributeValueKind.Absent;

    /// <summary>A copy with the given negation.</summary>
    public AttributeValue WithNegated(bool negated) =>
        Kind == AttributeValueKind.Absent || negated == Negated ? this : new(Kind, negated, Literal, Variable);

    /// <summary>The value as the writer prints it, without the negation.</summary>
    public string Text => Kind switch
    {
        AttributeValueKind.Literal => Literal!.Text,
        AttributeValueKind.Variable => Variable!.ToString(),
        _ => string.Empty,
    };

    /// <inheritdoc/>
    public override string ToString() => Kind == AttributeValueKind.Absent ? "(absent)" : (Negated ? "! " : "") + Text;
}
