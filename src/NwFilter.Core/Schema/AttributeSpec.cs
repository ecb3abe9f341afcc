using System.Collections.Immutable;
using NwFilter.Core.Model;

namespace NwFilter.Core.Schema;

/// <summary>How a <see cref="DataType.String"/> value of an attribute is checked and canonicalised.</summary>
public enum StringRule
{
    /// <summary>The attribute has no string form.</summary>
    None,
    /// <summary>A name from the attribute's <see cref="AttributeSpec.Symbols"/> table (case-insensitive).</summary>
    Symbol,
    /// <summary>A connection-state list: NEW, ESTABLISHED, RELATED, INVALID, NONE.</summary>
    ConnectionState,
    /// <summary>TCP flags <c>MASK/FLAGS</c>, each a list of FIN, SYN, RST, PSH, ACK, URG, ALL, NONE.</summary>
    TcpFlags,
}

/// <summary>
/// One attribute of one protocol element: its XML name, the datatypes it accepts (tried in <see cref="DataType"/>
/// order), and its limits. The reader, the writer, the validator and the cmdlets all read these.
/// </summary>
/// <param name="Id">The attribute.</param>
/// <param name="Name">The XML attribute name.</param>
/// <param name="Types">The datatypes accepted.</param>
public sealed record AttributeSpec(AttributeId Id, string Name, DataType Types)
{
    /// <summary>The smallest number accepted, for numeric types.</summary>
    public ulong Min { get; init; }

    /// <summary>The largest number accepted, for numeric types; the type's own maximum when null.</summary>
    public ulong? Max { get; init; }

    /// <summary>How a <see cref="DataType.String"/> value is checked.</summary>
    public StringRule StringRule { get; init; }

    /// <summary>Symbolic names and their numbers, canonical spelling first.</summary>
    public ImmutableArray<KeyValuePair<string, ulong>> Symbols { get; init; } = [];

    /// <summary>
    /// For a symbolic attribute: a number without a name is printed in decimal even when written in hex (libvirt's
    /// ARP opcode formatter). Otherwise it is printed as written (hex as <c>0x%x</c>, decimal as decimal).
    /// </summary>
    public bool UnnamedAsDecimal { get; init; }

    /// <summary>The longest text kept, for free text (longer is truncated, as libvirt does).</summary>
    public int? MaxLength { get; init; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
