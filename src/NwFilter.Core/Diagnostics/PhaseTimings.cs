using System.Diagnostics;

namespace NwFilter.Core.Diagnostics;

/// <summary>
/// Where a request's time goes, for the benchmarks: the code marks the end of each step (<see cref="Mark"/>), and a
/// caller that started a recording (<see cref="Start"/>) on its async flow gets each step's wall time. Without a
/// recording a mark is one AsyncLocal read. Not an API: the bench (bench/NwFilter.Bench, "runtime") prints the parts.
/// </summary>
internal static class PhaseTimings
{
    private static readonly AsyncLocal<Recording?> Current = new();

    /// <summary>Starts recording the marks of this async flow (and the flows it starts); dispose to stop.</summary>
    public static Recording Start() => Current.Value = new Recording();

    /// <summary>Ends the step <paramref name="step"/>: the time since the previous mark (or the start) is its time.</summary>
    public static void Mark(string step) => Current.Value?.Add(step);

    /// <summary>The steps recorded, in order, each with its wall time; a step marked more than once is summed.</summary>
    public sealed class Recording : IDisposable
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly List<(string Step, TimeSpan Time)> _steps = [];
        private TimeSpan _last;

        public IReadOnlyList<(string Step, TimeSpan Time)> Steps
        {
            get
            {
                lock (_steps)
                {
                    return [.. _steps.GroupBy(s => s.Step).Select(g => (g.Key, TimeSpan.FromTicks(g.Sum(s => s.Time.Ticks))))];
                }
            }
        }

        internal void Add(string step)
        {
            lock (_steps)
            {
                var now = _clock.Elapsed;
                _steps.Add((step, now - _last));
                _last = now;
            }
        }

        public void Dispose()
        {
            if (ReferenceEquals(Current.Value, this))
            {
                Current.Value = null;
            }
        }
    }
}
