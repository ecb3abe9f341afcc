using System.Collections.Concurrent;
using NwFilter.Core.Runtime;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>A runtime host for tests: keeps every event and confirmation request, answers each with <see cref="Answer"/>.</summary>
internal sealed class RecordingRuntimeHost : IRuntimeHost
{
    public bool Answer { get; init; } = true;

    public ConcurrentQueue<RuntimeEvent> EventQueue { get; } = new();

    public List<RuntimeEvent> Events => [.. EventQueue];

    public List<ConfirmationRequest> Confirmations { get; } = [];

    public void Report(RuntimeEvent runtimeEvent) => EventQueue.Enqueue(runtimeEvent);

    public void Progress(RuntimeProgress progress)
    {
    }

    public void LearnerStarted(LearnerStarted started)
    {
    }

    public bool Confirm(ConfirmationRequest request)
    {
        Confirmations.Add(request);
        return Answer;
    }
}
