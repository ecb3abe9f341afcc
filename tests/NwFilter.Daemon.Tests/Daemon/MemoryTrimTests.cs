using NwFilter.Daemon;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>nwfilterd's memory trim: it runs after enough allocation once no change runs, never while one does, and gives committed GC memory back.</summary>
public sealed class MemoryTrimTests
{
    private static byte[][] Garbage(int mebibytes) => [.. Enumerable.Range(0, mebibytes).Select(_ => new byte[1024 * 1024])];

    [Fact]
    public async Task AfterABurstOfAllocationItTrimsOnceQuietAndNotWhileAChangeRuns()
    {
        // The allocation count is the test's own: the process's (GC.GetTotalAllocatedBytes) also counts what the tests
        // running beside this one allocate, which once made a second trim in a run where most tests skip (non-root).
        var allocated = new long[1];
        var changes = new SemaphoreSlim(1, 1);
        var lines = new List<string>();
        var trim = new MemoryTrim(changes, l => { lock (lines) { lines.Add(l); } })
        {
            Threshold = 16L * 1024 * 1024,
            Quiet = TimeSpan.FromMilliseconds(200),
            Period = TimeSpan.FromMilliseconds(50),
            Allocated = () => Volatile.Read(ref allocated[0]),
        };
        using var stop = new CancellationTokenSource();
        await changes.WaitAsync(); // a change runs: no trim, however much was allocated
        var running = trim.RunAsync(stop.Token);
        await Task.Delay(100);
        Volatile.Write(ref allocated[0], 32L * 1024 * 1024);
        await Task.Delay(700);
        Assert.Equal(0, Count(lines));
        changes.Release(); // quiet from now on: one trim
        await WaitForLines(lines, 1);
        await Task.Delay(500);
        Assert.Equal(1, Count(lines)); // an idle daemon does not trim again
        Assert.StartsWith("trimmed: memory: RSS ", lines[0]);
        Assert.Equal(1, changes.CurrentCount); // the lock it held for the trim is given back

        Volatile.Write(ref allocated[0], 40L * 1024 * 1024); // 8 MiB since the trim: under the threshold
        await Task.Delay(500);
        Assert.Equal(1, Count(lines));
        Volatile.Write(ref allocated[0], 64L * 1024 * 1024); // another burst: trimmed again
        await WaitForLines(lines, 2);
        Assert.Equal(2, Count(lines));
        await stop.CancelAsync();
        await running;
    }

    private static async Task WaitForLines(List<string> lines, int count)
    {
        for (var i = 0; i < 100 && Count(lines) < count; i++)
        {
            await Task.Delay(50);
        }
    }

    [Fact]
    public void ATrimDecommitsWhatTheGcNoLongerNeeds()
    {
        GC.KeepAlive(Garbage(64));
        GC.Collect();
        var before = GC.GetGCMemoryInfo().TotalCommittedBytes;
        MemoryTrim.Trim();
        var after = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
        Assert.True(after < before, $"committed {before} bytes before the trim, {after} after");
    }

    [Fact]
    public void TheTrimIsOnUnlessTurnedOff()
    {
        Assert.True(DaemonOptions.Parse([]).Options!.MemoryTrim);
        Assert.False(DaemonOptions.Parse(["--no-memory-trim"]).Options!.MemoryTrim);
    }

    private static int Count(List<string> lines)
    {
        lock (lines)
        {
            return lines.Count;
        }
    }
}
