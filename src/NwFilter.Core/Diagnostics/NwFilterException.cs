using System.Collections.Immutable;

namespace NwFilter.Core.Diagnostics;

/// <summary>
/// An operation failed; <see cref="Diagnostics"/> lists every problem found (at least one error), so a caller can
/// report them all at once.
/// </summary>
public sealed class NwFilterException : Exception
{
    /// <summary>Refuses an operation for one reason.</summary>
    public NwFilterException(Diagnostic diagnostic, Exception? inner = null)
        : this([diagnostic], inner)
    {
    }

    /// <summary>Refuses an operation for every reason given (at least one error).</summary>
    public NwFilterException(IEnumerable<Diagnostic> diagnostics, Exception? inner = null)
        : this([.. diagnostics], inner)
    {
    }

    private NwFilterException(ImmutableArray<Diagnostic> diagnostics, Exception? inner)
        : base(Describe(diagnostics), inner)
    {
        Diagnostics = diagnostics;
    }

    /// <summary>Every problem found, errors first.</summary>
    public ImmutableArray<Diagnostic> Diagnostics { get; }

    /// <summary>The first error: what a single-error caller reports.</summary>
    public Diagnostic Primary => Diagnostics.FirstOrDefault(d => d.Severity == DiagnosticSeverity.Error) ?? Diagnostics[0];

    private static string Describe(ImmutableArray<Diagnostic> diagnostics)
    {
        if (diagnostics.IsDefaultOrEmpty)
        {
            throw new ArgumentException("An NwFilterException needs at least one diagnostic.", nameof(diagnostics));
        }
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        return errors.Count <= 1
            ? (errors.FirstOrDefault() ?? diagnostics[0]).ToString()
            : $"{errors.Count} problems:{Environment.NewLine}" + string.Join(Environment.NewLine, errors.Select(e => "  " + e));
    }
}
