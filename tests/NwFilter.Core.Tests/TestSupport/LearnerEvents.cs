using NwFilter.Core.Learning;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>Waiting for a learner's events in tests.</summary>
public static class LearnerEvents
{
    /// <summary>The next event of type <typeparamref name="T"/> from the learner's stream (earlier ones are passed over).</summary>
    public static async Task<T> Next<T>(IpLearner learner, TimeSpan wait) where T : IpLearningEvent
    {
        using var timeout = new CancellationTokenSource(wait);
        var seen = new List<IpLearningEvent>();
        try
        {
            await foreach (var e in learner.Events.ReadAllAsync(timeout.Token))
            {
                seen.Add(e);
                if (e is T wanted)
                {
                    return wanted;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        throw new Xunit.Sdk.XunitException($"no {typeof(T).Name} within {wait}; saw: {string.Join("; ", seen)}");
    }
}
