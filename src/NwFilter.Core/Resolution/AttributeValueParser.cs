using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Resolution;

/// <summary>
/// Parses the text of a variable's value as a literal of one attribute (the same parsing the reader applies to a
/// literal in a document), giving the canonical typed value or a reason.
/// </summary>
public delegate bool AttributeValueParser(AttributeSpec spec, string text, out TypedValue value, out string? error);

/// <summary>How a filter tree is resolved.</summary>
public sealed record ResolveOptions
{
    /// <summary>The defaults: values parsed by the schema's own value parser.</summary>
    public static ResolveOptions Default { get; } = new();

    /// <summary>Parses each substituted value against its attribute; the schema's value parser by default.</summary>
    public AttributeValueParser ValueParser { get; init; } = DefaultAttributeValueParser.TryParse;
}
