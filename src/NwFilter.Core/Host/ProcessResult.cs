namespace NwFilter.Core.Host;

/// <summary>What a finished (or killed) program left behind.</summary>
/// <param name="Request">What was run.</param>
/// <param name="ExitCode">The exit code; 127 when the program could not be started (as a shell would say).</param>
/// <param name="StandardOutput">Everything it wrote to stdout.</param>
/// <param name="StandardError">Everything it wrote to stderr, or why it could not start.</param>
/// <param name="Elapsed">Wall time from start to exit.</param>
/// <param name="TimedOut">True when it was killed because <see cref="ProcessRequest.Timeout"/> passed.</param>
public sealed record ProcessResult(
    ProcessRequest Request,
    int ExitCode,
    string StandardOutput,
    string StandardError,
    TimeSpan Elapsed,
    bool TimedOut = false)
{
    /// <summary>The exit code that means "could not start".</summary>
    public const int NotStartedExitCode = 127;

    /// <summary>True when the process exited with status 0 and did not time out.</summary>
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>Throws <see cref="ProcessFailedException"/> unless the program succeeded; returns this for chaining.</summary>
    public ProcessResult EnsureSuccess() => Succeeded ? this : throw new ProcessFailedException(this);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Request} -> {(TimedOut ? "timed out" : "exit " + ExitCode)} in {Elapsed.TotalMilliseconds:F1} ms";
}

/// <summary>A program that had to succeed did not.</summary>
internal sealed class ProcessFailedException : Exception
{
    public ProcessFailedException(ProcessResult result)
        : base($"{result}: {result.StandardError.Trim()}")
    {
        Result = result;
    }

    public ProcessResult Result { get; }
}
