using System.Collections;
using System.Globalization;
using System.Management.Automation;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// Lets a FilterReference[] parameter take what is natural to type: a filter name (<c>'clean-traffic'</c>), a
/// hashtable with the filter and its parameters (<c>@{ Filter = 'clean-traffic'; IP = '10.0.0.1' }</c>, or
/// <c>@{ Filter = 'x'; Parameters = @{ IP = '10.0.0.1', '10.0.0.2' } }</c>; a list value repeats the parameter), or a
/// FilterReference object. Parameter names and values are checked as the XML reader checks them.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class FilterReferenceTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var items = LanguagePrimitives.GetEnumerable(Unwrap(inputData)) is { } list && Unwrap(inputData) is not string and not IDictionary
            ? list.Cast<object?>()
            : [inputData];
        return items.Select(Convert).ToArray();
    }

    private static object? Unwrap(object? o) => o is PSObject p ? p.BaseObject : o;

    private static FilterReference Convert(object? item)
    {
        switch (Unwrap(item))
        {
            case FilterReference reference:
                return reference;
            case string name when name.Length > 0:
                return new FilterReference(name);
            case IDictionary table:
                return FromTable(table);
            default:
                throw new ArgumentTransformationMetadataException(
                    $"A filter reference is a filter name, a hashtable such as @{{ Filter = 'clean-traffic'; IP = '10.0.0.1' }}, or a FilterReference; not '{item}'.");
        }
    }

    private static FilterReference FromTable(IDictionary table)
    {
        string? filter = null;
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (DictionaryEntry e in table)
        {
            var key = e.Key?.ToString() ?? "";
            if (key.Equals("Filter", StringComparison.OrdinalIgnoreCase) || key.Equals("Name", StringComparison.OrdinalIgnoreCase))
            {
                filter = Unwrap(e.Value)?.ToString();
            }
            else if (key.Equals("Parameters", StringComparison.OrdinalIgnoreCase) && Unwrap(e.Value) is IDictionary parameters)
            {
                foreach (DictionaryEntry p in parameters)
                {
                    AddParameter(pairs, p.Key?.ToString() ?? "", p.Value);
                }
            }
            else
            {
                AddParameter(pairs, key, e.Value);
            }
        }
        if (string.IsNullOrEmpty(filter))
        {
            throw new ArgumentTransformationMetadataException("A filter reference hashtable needs a 'Filter' key naming the filter.");
        }
        return new FilterReference(filter) { Parameters = ParameterSet.FromPairs(pairs) };
    }

    private static void AddParameter(List<KeyValuePair<string, string>> pairs, string name, object? value)
    {
        if (!ValueParser.IsValidVariableName(name))
        {
            throw new ArgumentTransformationMetadataException($"'{name}' is not a valid parameter name: use letters, digits and '_'.");
        }
        var raw = Unwrap(value);
        var values = raw is string or null || LanguagePrimitives.GetEnumerable(raw) is not { } list ? [raw] : list.Cast<object?>();
        foreach (var v in values)
        {
            var text = System.Convert.ToString(Unwrap(v), CultureInfo.InvariantCulture) ?? "";
            if (!ValueParser.IsValidParameterValue(text))
            {
                throw new ArgumentTransformationMetadataException(
                    $"'{text}' is not a valid value for the parameter '{name}': use letters, digits, '_', '.' and ':'.");
            }
            pairs.Add(new(name, text));
        }
    }
}
