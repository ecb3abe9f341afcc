using System.Management.Automation;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Commands.Infrastructure;

/// <summary>Builds PowerShell error records from the core's diagnostics: stable ids, precise categories.</summary>
internal static class ErrorRecords
{
    /// <summary>An error record whose id is the primary diagnostic's code and whose target is the offending item.</summary>
    public static ErrorRecord From(NwFilterException exception, object? target)
    {
        var primary = exception.Primary;
        return new ErrorRecord(exception, primary.Code, Map(primary.Category), target ?? primary.Source ?? primary.Filter)
        {
            ErrorDetails = new ErrorDetails(exception.Message),
        };
    }

    public static ErrorCategory Map(DiagnosticCategory category) => category switch
    {
        DiagnosticCategory.InvalidData => ErrorCategory.InvalidData,
        DiagnosticCategory.InvalidArgument => ErrorCategory.InvalidArgument,
        DiagnosticCategory.ObjectNotFound => ErrorCategory.ObjectNotFound,
        DiagnosticCategory.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        DiagnosticCategory.InvalidOperation => ErrorCategory.InvalidOperation,
        DiagnosticCategory.PermissionDenied => ErrorCategory.PermissionDenied,
        _ => throw new ArgumentOutOfRangeException(nameof(category), category, "unmapped diagnostic category"),
    };
}
