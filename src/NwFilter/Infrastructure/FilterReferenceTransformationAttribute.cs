using System.Collections;
using System.Management.Automation;
using NwFilter.Core.Model;

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
    /// <inheritdoc/>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var items = LanguagePrimitives.GetEnumerable(HashtableParameters.Unwrap(inputData)) is { } list && HashtableParameters.Unwrap(inputData) is not string and not IDictionary
            ? list.Cast<object?>()
            : [inputData];
        return items.Select(Convert).ToArray();
    }

    private static FilterReference Convert(object? item)
    {
        switch (HashtableParameters.Unwrap(item))
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
                filter = HashtableParameters.Unwrap(e.Value)?.ToString();
            }
            else if (key.Equals("Parameters", StringComparison.OrdinalIgnoreCase) && HashtableParameters.Unwrap(e.Value) is IDictionary parameters)
            {
                foreach (DictionaryEntry p in parameters)
                {
                    HashtableParameters.Add(pairs, p.Key?.ToString() ?? "", p.Value);
                }
            }
            else
            {
                HashtableParameters.Add(pairs, key, e.Value);
            }
        }
        if (string.IsNullOrEmpty(filter))
        {
            throw new ArgumentTransformationMetadataException("A filter reference hashtable needs a 'Filter' key naming the filter.");
        }
        return new FilterReference(filter) { Parameters = ParameterSet.FromPairs(pairs) };
    }
}
