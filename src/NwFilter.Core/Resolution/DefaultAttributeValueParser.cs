using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Resolution;

/// <summary>The schema's value parser, the one the XML reader uses for literals.</summary>
internal static class DefaultAttributeValueParser
{
    /// <summary>
    /// A substituted value is parsed as a literal would be; free text (a comment) from a variable must also be a value
    /// libvirt accepts for a parameter (<c>[A-Za-z0-9_.:]+</c>), so that no variable can carry a quote, a brace, a
    /// semicolon or a <c>#</c> into an nft statement: such a value is refused here, before any backend writes it.
    /// </summary>
    public static bool TryParse(AttributeSpec spec, string text, out TypedValue value, out string? error)
    {
        if ((spec.Types & DataType.StringCopy) != 0 && !ValueParser.IsValidParameterValue(text))
        {
            value = null!;
            error = $"a variable's value in {spec.Name} must be letters, digits, '_', '.' and ':' (as libvirt's parameter values are)";
            return false;
        }
        return ValueParser.TryParse(spec, text, out value, out error);
    }
}
