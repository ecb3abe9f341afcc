using System.Globalization;
using NwFilter.Core.Model;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>A lowered match's literals as the command-line text libvirt prints for them.</summary>
internal static class RuleValues
{
    /// <summary>A number in decimal (libvirt prints even hex-written numbers in decimal, unless asked for hex).</summary>
    public static string Decimal(TypedValue value) => value.Number.ToString(CultureInfo.InvariantCulture);

    /// <summary>A number as <c>0x%x</c>.</summary>
    public static string Hex(TypedValue value) => "0x" + value.Number.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>An address (MAC or IP) or mask-as-MAC in canonical form.</summary>
    public static string Address(TypedValue value) => value.Text;

    /// <summary>An IP mask as its prefix length.</summary>
    public static string Prefix(TypedValue value) => value.Number.ToString(CultureInfo.InvariantCulture);
}
