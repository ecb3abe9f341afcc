using System.Diagnostics;

namespace NwFilter.Bench;

/// <summary>Times an operation repeated N times on this thread, with the bytes it allocated.</summary>
public static class Measure
{
    public readonly record struct Result(int Count, TimeSpan Elapsed, long AllocatedBytes)
    {
        public double PerSecond => Count / Elapsed.TotalSeconds;
        public double BytesPerOperation => (double)AllocatedBytes / Count;
        public double MicrosecondsPerOperation => Elapsed.TotalMilliseconds * 1000 / Count;
    }

    public static Result Run(int count, Action<int> operation)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            operation(i);
        }
        watch.Stop();
        return new Result(count, watch.Elapsed, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>A short description of the machine, for the results table.</summary>
    public static string Machine =>
        $"{Environment.ProcessorCount} cpu, {System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}";
}
