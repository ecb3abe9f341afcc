using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Resolution;

/// <summary>The schema's value parser, the one the XML reader uses for literals.</summary>
internal static class DefaultAttributeValueParser
{
    public static bool TryParse(AttributeSpec spec, string text, out TypedValue value, out string? error) =>
        ValueParser.TryParse(spec, text, out value, out error);
}
