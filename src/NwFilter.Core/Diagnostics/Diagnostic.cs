namespace NwFilter.Core.Diagnostics;

/// <summary>How serious a diagnostic is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>Something is odd but the operation goes on (an unknown filter reference at define time, for instance).</summary>
    Warning,
    /// <summary>The operation is refused and nothing changes.</summary>
    Error,
}

/// <summary>
/// What kind of problem a diagnostic reports; the module maps it onto a PowerShell ErrorCategory.
/// </summary>
public enum DiagnosticCategory
{
    /// <summary>A document or value is malformed or out of range.</summary>
    InvalidData,
    /// <summary>An argument given by the caller is not acceptable.</summary>
    InvalidArgument,
    /// <summary>Something named does not exist (a filter, a binding, a file).</summary>
    ObjectNotFound,
    /// <summary>A host resource (a firewall tool, a device, a lock) failed or is missing.</summary>
    ResourceUnavailable,
    /// <summary>The operation conflicts with the current state (a uuid that belongs to another name, a loop).</summary>
    InvalidOperation,
    /// <summary>The caller lacks the rights (not root).</summary>
    PermissionDenied,
}

/// <summary>
/// One problem found, with where it is: the file or document, the line, the element, the attribute and the value.
/// </summary>
/// <param name="Severity">Error or warning.</param>
/// <param name="Code">A stable identifier, such as <c>InvalidAttributeValue</c>; PowerShell error ids are built from it.</param>
/// <param name="Message">A sentence for a person, naming the place and the offending value.</param>
public sealed record Diagnostic(DiagnosticSeverity Severity, string Code, string Message)
{
    /// <summary>Error or warning.</summary>
    public DiagnosticSeverity Severity { get; internal init; } = Severity;
    /// <summary>A stable identifier, such as <c>InvalidAttributeValue</c>; PowerShell error ids are built from it.</summary>
    public string Code { get; internal init; } = Code;
    /// <summary>A sentence for a person, naming the place and the offending value.</summary>
    public string Message { get; internal init; } = Message;

    /// <summary>What kind of failure it is; the module maps it onto a PowerShell error category.</summary>
    public DiagnosticCategory Category { get; internal init; } = DiagnosticCategory.InvalidData;

    /// <summary>The file path or document name the problem is in, when known.</summary>
    public string? Source { get; internal init; }

    /// <summary>1-based line in <see cref="Source"/>, when known.</summary>
    public int? Line { get; internal init; }

    /// <summary>1-based column in <see cref="Source"/>, when known.</summary>
    public int? Column { get; internal init; }

    /// <summary>The filter (or binding port) the problem belongs to, when known.</summary>
    public string? Filter { get; internal init; }

    /// <summary>The XML element, when the problem is in one.</summary>
    public string? Element { get; internal init; }

    /// <summary>The XML attribute, when the problem is in one.</summary>
    public string? Attribute { get; internal init; }

    /// <summary>The offending value, when there is one.</summary>
    public string? Value { get; internal init; }

    /// <summary>An error with the given stable code, message for a person, and category.</summary>
    public static Diagnostic Error(string code, string message, DiagnosticCategory category = DiagnosticCategory.InvalidData) =>
        new(DiagnosticSeverity.Error, code, message) { Category = category };

    /// <summary>A warning with the given stable code and message for a person.</summary>
    public static Diagnostic Warning(string code, string message) => new(DiagnosticSeverity.Warning, code, message);

    /// <summary>The place, as <c>file:line:column</c> (as much as is known).</summary>
    public string Location =>
        Source is null ? (Line is null ? "" : $"line {Line}") :
        Line is null ? Source : Column is null ? $"{Source}:{Line}" : $"{Source}:{Line}:{Column}";

    /// <inheritdoc/>
    public override string ToString() => Location.Length == 0 ? Message : $"{Location}: {Message}";
}
