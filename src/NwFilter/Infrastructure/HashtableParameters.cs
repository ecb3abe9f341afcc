using System.Collections;
using System.Globalization;
using System.Management.Automation;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// The one conversion of a hashtable (any dictionary) into filter parameters, for -Parameter of the binding cmdlets and
/// the hashtables of -FilterRef: a key is a variable name, a value is a value, an array value is a list (the parameter
/// repeated). Names and values are checked as the XML reader checks them.
/// </summary>
internal static class HashtableParameters
{
    /// <summary>The object inside a PSObject wrapper.</summary>
    public static object? Unwrap(object? o) => o is PSObject p ? p.BaseObject : o;

    /// <summary>Every entry of <paramref name="table"/> as parameters.</summary>
    public static ParameterSet From(IDictionary table)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (DictionaryEntry e in table)
        {
            Add(pairs, e.Key?.ToString() ?? "", e.Value);
        }
        return ParameterSet.FromPairs(pairs);
    }

    /// <summary>Adds the parameter <paramref name="name"/> with <paramref name="value"/> (each item of an array value).</summary>
    /// <exception cref="ArgumentTransformationMetadataException">An invalid name or value.</exception>
    public static void Add(List<KeyValuePair<string, string>> pairs, string name, object? value)
    {
        if (!ValueParser.IsValidVariableName(name))
        {
            throw new ArgumentTransformationMetadataException($"'{name}' is not a valid parameter name: use letters, digits and '_'.");
        }
        var raw = Unwrap(value);
        var values = raw is string or null || LanguagePrimitives.GetEnumerable(raw) is not { } list ? [raw] : list.Cast<object?>();
        foreach (var v in values)
        {
            var text = Convert.ToString(Unwrap(v), CultureInfo.InvariantCulture) ?? "";
            if (!ValueParser.IsValidParameterValue(text))
            {
                throw new ArgumentTransformationMetadataException(
                    $"'{text}' is not a valid value for the parameter '{name}': use letters, digits, '_', '.' and ':'.");
            }
            pairs.Add(new(name, text));
        }
    }
}
