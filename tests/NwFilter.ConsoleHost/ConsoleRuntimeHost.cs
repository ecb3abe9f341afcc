using NwFilter.Core.Runtime;

namespace NwFilter.ConsoleHost;

/// <summary>
/// The console's side of the host seam: events and progress as lines on standard error ("warning Id: message"),
/// learners as a line each, and confirmations answered by the command line (--what-if prints the plan and says no).
/// </summary>
internal sealed class ConsoleRuntimeHost(TextWriter log, bool whatIf) : IRuntimeHost
{
    private readonly object _gate = new();

    public void Report(RuntimeEvent runtimeEvent) =>
        Line($"{runtimeEvent.Level.ToString().ToLowerInvariant()} {runtimeEvent.Id}: {runtimeEvent.Message}" + (runtimeEvent.Target is { } t ? $" [{t}]" : ""));

    public void Progress(RuntimeProgress progress) => Line($"progress {progress.Activity}: {progress.Status} ({progress.Percent}%)");

    public void LearnerStarted(LearnerStarted started) => Line($"learner {started.PortDevice}: {started.Learner.Mode.ToString().ToLowerInvariant()}");

    public bool Confirm(ConfirmationRequest request)
    {
        if (!whatIf)
        {
            return true;
        }
        Line($"what-if {request.Description ?? $"{request.Action} on {request.Target}."}");
        if (request.Plan is { } plan)
        {
            Line(plan());
        }
        return false;
    }

    private void Line(string text)
    {
        lock (_gate)
        {
            log.WriteLine(text);
        }
    }
}
