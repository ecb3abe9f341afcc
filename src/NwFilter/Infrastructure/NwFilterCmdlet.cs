using System.Management.Automation;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// The base of every NwFilter cmdlet: reaches the runtime of the store the environment names, maps the core's
/// diagnostics onto PowerShell's streams, resolves paths through the provider, and turns StopProcessing into a
/// cancellation token for the core.
/// </summary>
public abstract class NwFilterCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Cancelled when the user presses Ctrl+C (StopProcessing).</summary>
    protected internal CancellationToken CancellationToken => _stopping.Token;

    /// <summary>The runtime of the store location the environment names now (see <see cref="RuntimeSessions"/>).</summary>
    internal static NwFilterRuntime Runtime => RuntimeSessions.Current;

    /// <summary>A host for this command's requests to the runtime.</summary>
    internal PowerShellRuntimeHost NewHost() => new(this);

    /// <summary>
    /// The wildcard pattern of <paramref name="name"/> (case-sensitive, as filter names and port devices are); null,
    /// after an InvalidWildcardPattern error record, when it is not a valid pattern (such as an unclosed '[').
    /// </summary>
    protected WildcardPattern? Pattern(string name)
    {
        var pattern = WildcardPattern.Get(name, WildcardOptions.CultureInvariant);
        try
        {
            pattern.IsMatch("");
            return pattern;
        }
        catch (WildcardPatternException e)
        {
            WriteError(Diagnostic.Error(InvalidWildcardPattern, $"'{name}' is not a valid wildcard pattern: {e.Message}", DiagnosticCategory.InvalidArgument) with { Value = name }, name);
            return null;
        }
    }

    /// <summary>The error id of a name that is not a valid wildcard pattern.</summary>
    internal const string InvalidWildcardPattern = "InvalidWildcardPattern";

    /// <inheritdoc/>
    protected override void StopProcessing() => _stopping.Cancel();

    /// <inheritdoc/>
    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Writes each warning diagnostic to the warning stream.</summary>
    protected void WriteWarnings(IEnumerable<Diagnostic> diagnostics)
    {
        foreach (var d in diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning))
        {
            WriteWarning(d.ToString());
        }
    }

    /// <summary>Writes one error record for a failed item; the target is the offending item (a file, a filter, a port).</summary>
    protected void WriteError(NwFilterException exception, object? target) =>
        WriteError(ErrorRecords.From(exception, target));

    /// <summary>Writes one error record for one diagnostic.</summary>
    protected void WriteError(Diagnostic diagnostic, object? target) =>
        WriteError(ErrorRecords.From(new NwFilterException(diagnostic), target));

    /// <summary>
    /// Resolves <c>-Path</c> (wildcards) or <c>-LiteralPath</c> values to file-system paths. A path that matches nothing
    /// or is not a file-system path gets an error record; the others are returned.
    /// </summary>
    protected IEnumerable<string> ResolveFilePaths(IEnumerable<string> paths, bool literal)
    {
        foreach (var path in paths)
        {
            List<string> resolved = [];
            try
            {
                if (literal)
                {
                    var p = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
                    if (provider.Name != "FileSystem" || !(File.Exists(p) || Directory.Exists(p)))
                    {
                        throw new ItemNotFoundException($"Cannot find path '{path}' because it does not exist.");
                    }
                    resolved.Add(p);
                }
                else
                {
                    resolved.AddRange(SessionState.Path.GetResolvedProviderPathFromPSPath(path, out var provider));
                    if (provider.Name != "FileSystem")
                    {
                        throw new ItemNotFoundException($"'{path}' is not a file-system path.");
                    }
                }
            }
            catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException)
            {
                WriteError(new ErrorRecord(e, "PathNotFound", ErrorCategory.ObjectNotFound, path));
                continue;
            }
            foreach (var p in resolved)
            {
                yield return p;
            }
        }
    }

    /// <summary>
    /// Resolves <c>-Path</c>/<c>-LiteralPath</c> values (<see cref="ResolveFilePaths"/>) and reads each file; a file that
    /// cannot be read gets a FileReadFailed error record and is skipped.
    /// </summary>
    protected IEnumerable<(string Path, string Text)> ReadFiles(IEnumerable<string> paths, bool literal)
    {
        foreach (var path in ResolveFilePaths(paths, literal))
        {
            string text;
            try
            {
                // Bounded: a FIFO, a device, a file over the size limit, invalid UTF-8 or a NUL is refused with its own id.
                text = NwFilter.Core.Xml.DocumentFile.ReadText(path);
            }
            catch (NwFilter.Core.Xml.DocumentReadException e)
            {
                WriteError(new ErrorRecord(e, e.Diagnostic.Code, ErrorRecords.Map(e.Diagnostic.Category), path)
                {
                    ErrorDetails = new ErrorDetails(e.Message),
                });
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                WriteError(new ErrorRecord(e, "FileReadFailed", ErrorCategory.ReadError, path));
                continue;
            }
            yield return (path, text);
        }
    }
}
