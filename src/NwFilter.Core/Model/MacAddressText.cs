using System.Net.NetworkInformation;

namespace NwFilter.Core.Model;

/// <summary>MAC addresses as libvirt prints them: lower-case, two digits per byte, colon-separated.</summary>
public static class MacAddressText
{
    /// <summary>Formats <c>52:54:00:7b:35:93</c>.</summary>
    public static string Format(PhysicalAddress address) =>
        string.Join(':', address.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Parses <c>52:54:00:7b:35:93</c> (six hex pairs separated by colons, any case); false for anything else.</summary>
    public static bool TryParse(string? text, out PhysicalAddress address)
    {
        Span<byte> bytes = stackalloc byte[6];
        if (text is not null && Schema.TextParsers.TryParseMac(text.Trim(), bytes))
        {
            address = new PhysicalAddress(bytes.ToArray());
            return true;
        }
        address = PhysicalAddress.None;
        return false;
    }
}
