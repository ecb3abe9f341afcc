using NwFilter.Core.Runtime;

namespace NwFilter.Daemon;

/// <summary>
/// The daemon's side of the host seam: one line per event on standard output (the journal under systemd), every
/// change allowed (the socket's caller already decided), learners named as they start. Verbose events and progress
/// are dropped unless <paramref name="verbose"/>.
/// </summary>
internal sealed class DaemonLog(TextWriter output, bool verbose) : IRuntimeHost
{
    private readonly object _gate = new();

    /// <summary>One line, as it is.</summary>
    public void Line(string text)
    {
        lock (_gate)
        {
            output.WriteLine(text.ReplaceLineEndings(" "));
            output.Flush();
        }
    }

    public void Report(RuntimeEvent runtimeEvent)
    {
        if (runtimeEvent.Level == RuntimeEventLevel.Verbose && !verbose)
        {
            return;
        }
        Line($"{runtimeEvent.Level.ToString().ToLowerInvariant()} {runtimeEvent.Id}: {runtimeEvent.Message}" + (runtimeEvent.Target is { } t ? $" [{t}]" : ""));
    }

    public void Progress(RuntimeProgress progress)
    {
        if (verbose)
        {
            Line($"progress {progress.Activity}: {progress.Status} ({progress.Percent}%)");
        }
    }

    public void LearnerStarted(LearnerStarted started) =>
        Line($"learner {started.PortDevice}: {started.Learner.Mode.ToString().ToLowerInvariant()}");

    public bool Confirm(ConfirmationRequest request) => true;
}
