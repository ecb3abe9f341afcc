using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Resolution;

/// <summary>Forwards to the schema's value parser (the one the XML reader uses).</summary>
internal static class DefaultAttributeValueParser
{
    public static bool TryParse(AttributeSpec spec, string text, out TypedValue value, out string? error) =>
        throw new NotSupportedException("The schema value parser is not available yet (branch xml); pass ResolveOptions.ValueParser.");
}
