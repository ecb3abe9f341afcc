using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Net.NetworkInformation;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// Lets a ParameterSet parameter take a hashtable (<c>@{ IP = '10.0.0.5', '10.0.0.6'; DHCPSERVER = '10.0.0.1' }</c>: an
/// array value is a list), any dictionary, or a ParameterSet (what Get-NwFilterBinding outputs as Parameter). Names and
/// values are checked as the XML reader checks them.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ParameterSetTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData) => Convert(inputData);

    internal static ParameterSet Convert(object? inputData)
    {
        switch (Unwrap(inputData))
        {
            case null:
                return ParameterSet.Empty;
            case ParameterSet set:
                return set;
            case IDictionary table:
                var pairs = new List<KeyValuePair<string, string>>();
                foreach (DictionaryEntry e in table)
                {
                    Add(pairs, e.Key?.ToString() ?? "", e.Value);
                }
                return ParameterSet.FromPairs(pairs);
            default:
                throw new ArgumentTransformationMetadataException(
                    $"Parameters are a hashtable such as @{{ IP = '10.0.0.5' }} (an array value is a list), not '{inputData}'.");
        }
    }

    private static object? Unwrap(object? o) => o is PSObject p ? p.BaseObject : o;

    private static void Add(List<KeyValuePair<string, string>> pairs, string name, object? value)
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

/// <summary>Lets a PhysicalAddress parameter take <c>52:54:00:7b:35:93</c> (or a PhysicalAddress).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class MacAddressTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject p ? p.BaseObject : inputData;
        return value switch
        {
            PhysicalAddress address => address,
            string text when MacAddressText.TryParse(text, out var address) => address,
            _ => throw new ArgumentTransformationMetadataException($"'{value}' is not a MAC address such as 52:54:00:7b:35:93."),
        };
    }
}
