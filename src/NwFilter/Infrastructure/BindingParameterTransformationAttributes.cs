using System.Collections;
using System.Management.Automation;
using System.Net.NetworkInformation;
using NwFilter.Commands.Output;
using NwFilter.Core.Model;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// Lets a ParameterSet parameter take a hashtable (<c>@{ IP = '10.0.0.5', '10.0.0.6'; DHCPSERVER = '10.0.0.1' }</c>: an
/// array value is a list), any dictionary, or the Parameters of what Get-NwFilterBinding outputs. Names and
/// values are checked as the XML reader checks them.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ParameterSetTransformationAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc/>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData) => Convert(inputData);

    internal static ParameterSet Convert(object? inputData) => HashtableParameters.Unwrap(inputData) switch
    {
        null => ParameterSet.Empty,
        ParameterSet set => set,
        BindingParameters shown => shown.Set,
        IDictionary table => HashtableParameters.From(table),
        _ => throw new ArgumentTransformationMetadataException(
            $"Parameters are a hashtable such as @{{ IP = '10.0.0.5' }} (an array value is a list), not '{inputData}'."),
    };
}

/// <summary>Lets a PhysicalAddress parameter take <c>52:54:00:7b:35:93</c> (or a PhysicalAddress).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class MacAddressTransformationAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc/>
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
