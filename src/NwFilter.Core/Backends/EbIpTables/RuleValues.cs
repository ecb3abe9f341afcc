using System.Globalization;
using NwFilter.Core.Model;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>Reads the bound literals of a rule instance as the command-line text libvirt prints for them.</summary>
internal static class RuleValues
{
    /// <summary>The literal of <paramref name="id"/>, or null when absent. A variable here is a caller bug.</summary>
    public static TypedValue? Get(FilterRule rule, AttributeId id)
    {
        foreach (var attribute in rule.Attributes)
        {
            if (attribute.Id == id)
            {
                return attribute.Value.Kind switch
                {
                    AttributeValueKind.Literal => attribute.Value.Literal,
                    AttributeValueKind.Absent => null,
                    _ => throw new InvalidOperationException($"Attribute {id} is still a variable ({attribute.Value.Variable}); resolve the rule first."),
                };
            }
        }
        return null;
    }

    public static bool Has(FilterRule rule, AttributeId id) => Get(rule, id) is not null;

    public static bool Negated(FilterRule rule, AttributeId id)
    {
        foreach (var attribute in rule.Attributes)
        {
            if (attribute.Id == id)
            {
                return attribute.Value.Negated;
            }
        }
        return false;
    }

    /// <summary>A number in decimal (libvirt prints even hex-written numbers in decimal, unless asked for hex).</summary>
    public static string Decimal(TypedValue value) => value.Number.ToString(CultureInfo.InvariantCulture);

    /// <summary>A number as <c>0x%x</c>.</summary>
    public static string Hex(TypedValue value) => "0x" + value.Number.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>An address (MAC or IP) or mask-as-MAC in canonical form.</summary>
    public static string Address(TypedValue value) => value.Text;

    /// <summary>An IP mask as its prefix length.</summary>
    public static string Prefix(TypedValue value) => value.Number.ToString(CultureInfo.InvariantCulture);
}
