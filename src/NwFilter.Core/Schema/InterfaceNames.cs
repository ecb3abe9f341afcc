using System.Text;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Schema;

/// <summary>
/// Which port device (interface) names are accepted: what the kernel's dev_valid_name accepts (1 to 15 bytes, not
/// <c>.</c> or <c>..</c>, no <c>/</c>, <c>:</c> or white space), and, because the name goes into chain names and
/// command arguments, no control character, no quote and no leading <c>-</c>.
/// </summary>
internal static class InterfaceNames
{
    /// <summary>The error id of a refused port device name.</summary>
    public const string InvalidPortDeviceCode = "InvalidPortDevice";

    /// <summary>The longest name, in bytes (IFNAMSIZ - 1).</summary>
    public const int MaxBytes = 15;

    /// <summary>Why <paramref name="name"/> is refused, or null when it is a valid interface name.</summary>
    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "it is empty";
        }
        if (name.Length > MaxBytes || Encoding.UTF8.GetByteCount(name) > MaxBytes)
        {
            return $"it is longer than {MaxBytes} bytes";
        }
        if (name is "." or "..")
        {
            return "'.' and '..' are not interface names";
        }
        if (name[0] == '-')
        {
            return "it starts with '-'";
        }
        foreach (var c in name)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return $"it holds white space or a control character (U+{(int)c:X4})";
            }
            if (c is '/' or ':' or '\'' or '"')
            {
                return $"it holds '{c}'";
            }
        }
        return null;
    }

    /// <summary>The diagnostic for a refused name, or null.</summary>
    public static Diagnostic? Check(string? name) =>
        Problem(name) is { } problem
            ? Diagnostic.Error(InvalidPortDeviceCode,
                $"'{name}' is not a valid interface name: {problem} (1 to 15 bytes, no white space, '/', ':', quotes, control characters or leading '-'; not '.' or '..').",
                DiagnosticCategory.InvalidArgument) with { Value = name }
            : null;
}
