using System.Text;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Store;

/// <summary>
/// Which filter names a store accepts. A name becomes a file name (<c>&lt;name&gt;.xml</c>), so a name that could
/// escape the directory, hide as a dot file or not fit a file name is refused:
/// empty; longer than <see cref="MaxBytes"/> bytes of UTF-8; starting with <c>.</c> (which also refuses <c>.</c> and
/// <c>..</c>); containing <c>/</c> or <c>\</c>, NUL or any other control character. The PowerShell wildcard characters
/// <c>* ? [ ]</c> are refused too, so that a name can always be given to <c>-Name</c> as itself.
/// libvirt's own schema is stricter (<c>[a-zA-Z0-9_.:-]+</c>); every such name is accepted here.
/// </summary>
internal static class FilterNames
{
    /// <summary>The longest name accepted, in UTF-8 bytes (the file name adds <c>.xml</c>; file systems allow 255).</summary>
    public const int MaxBytes = 200;

    /// <summary>The extension of a filter's file.</summary>
    public const string FileExtension = ".xml";

    /// <summary>True when <paramref name="name"/> is acceptable.</summary>
    public static bool IsValid(string? name) => Check(name) is null;

    /// <summary>Why <paramref name="name"/> is refused, or null when it is acceptable.</summary>
    public static Diagnostic? Check(string? name)
    {
        string? reason = null;
        if (string.IsNullOrEmpty(name))
        {
            reason = "a filter name must not be empty";
        }
        else if (Encoding.UTF8.GetByteCount(name) > MaxBytes)
        {
            reason = $"a filter name must not be longer than {MaxBytes} bytes (this one has {Encoding.UTF8.GetByteCount(name)})";
        }
        else if (name[0] == '.')
        {
            reason = "a filter name must not start with '.'";
        }
        else
        {
            foreach (var c in name)
            {
                if (c is '/' or '\\')
                {
                    reason = $"a filter name must not contain '{c}'";
                }
                else if (c == '\0')
                {
                    reason = "a filter name must not contain NUL";
                }
                else if (char.IsControl(c))
                {
                    reason = $"a filter name must not contain control characters (U+{(int)c:X4})";
                }
                else if (c is '*' or '?' or '[' or ']')
                {
                    reason = $"a filter name must not contain the wildcard character '{c}'";
                }
                if (reason is not null)
                {
                    break;
                }
            }
        }
        if (reason is null && name is not null)
        {
            reason = UnicodeProblem(name);
        }
        return reason is null
            ? null
            : Diagnostic.Error(StoreCodes.InvalidFilterName, $"Invalid filter name '{Printable(name)}': {reason}.", DiagnosticCategory.InvalidArgument) with
            {
                Filter = name,
                Value = name,
            };
    }

    /// <summary>Throws <see cref="NwFilterException"/> when <paramref name="name"/> is refused.</summary>
    public static string Require(string? name) =>
        Check(name) is { } d ? throw new NwFilterException(d) : name!;

    /// <summary>The file name of a filter: <c>&lt;name&gt;.xml</c>.</summary>
    public static string FileName(string name) => Require(name) + FileExtension;

    /// <summary>The filter name a file name stands for, or null when it is not a filter's file.</summary>
    public static string? FromFileName(string fileName)
    {
        if (!fileName.EndsWith(FileExtension, StringComparison.Ordinal))
        {
            return null;
        }
        var name = fileName[..^FileExtension.Length];
        return IsValid(name) ? name : null;
    }

    /// <summary>
    /// Names that look alike but differ: invisible characters (zero-width, bidi controls, BOM), U+FFFD (left by a
    /// lossy decode), unpaired surrogates, and spellings not in Unicode form C (composed), so that two canonically
    /// equal spellings cannot be two filters. docs/design/limits.md.
    /// </summary>
    private static string? UnicodeProblem(string name)
    {
        if (System.Text.Ascii.IsValid(name))
        {
            return null;
        }
        for (var i = 0; i < name.Length; i++)
        {
            if (Rune.DecodeFromUtf16(name.AsSpan(i), out var rune, out var used) != System.Buffers.OperationStatus.Done)
            {
                return $"a filter name must not contain an unpaired surrogate (U+{(int)name[i]:X4})";
            }
            if (Rune.GetUnicodeCategory(rune) == System.Globalization.UnicodeCategory.Format || rune.Value is 0xFFFD or 0xFFFE or 0xFFFF)
            {
                return $"a filter name must not contain invisible or replacement characters (U+{rune.Value:X4})";
            }
            i += used - 1;
        }
        return name.IsNormalized(NormalizationForm.FormC) ? null : "a filter name must be in Unicode normalization form C (composed characters)";
    }

    private static string Printable(string? name)
    {
        if (name is null)
        {
            return "";
        }
        var b = new StringBuilder(Math.Min(name.Length, 80));
        foreach (var c in name.Length > 80 ? name[..77] + "..." : name)
        {
            b.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }
        return b.ToString();
    }
}
