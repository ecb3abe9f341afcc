using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Commands.Output;

/// <summary>What Test-NwFilter found for one filter (or one document that is not a filter).</summary>
public sealed class FilterTestResult
{
    internal FilterTestResult(string? name, string source, ImmutableArray<Diagnostic> problems)
    {
        Name = name;
        Source = source;
        Problems = problems;
    }

    /// <summary>The filter's name; null when the document could not be read far enough to know it.</summary>
    public string? Name { get; }

    /// <summary>Where the filter came from: the store, a file (with the line of the document), XML, or an object.</summary>
    public string Source { get; }

    /// <summary>True when there is no error (warnings may remain).</summary>
    public bool IsValid => !Problems.Any(p => p.Severity == DiagnosticSeverity.Error);

    /// <summary>Every problem found, errors and warnings, each naming its place.</summary>
    public ImmutableArray<Diagnostic> Problems { get; }

    /// <summary>The number of errors.</summary>
    public int ErrorCount => Problems.Count(p => p.Severity == DiagnosticSeverity.Error);

    /// <summary>The number of warnings.</summary>
    public int WarningCount => Problems.Count(p => p.Severity == DiagnosticSeverity.Warning);

    /// <inheritdoc/>
    public override string ToString() => $"{Name ?? Source}: {(IsValid ? "valid" : $"{ErrorCount} error(s)")}";
}
