using System.Runtime.InteropServices;

namespace NwFilter.Daemon;

/// <summary>
/// Gives memory back after a burst of work (docs/design/libvirt-daemon.md, "Memory"): a long-running daemon's RSS is
/// mostly memory that was needed while many bindings were compiled and applied and is free since, kept by the GC
/// (committed regions) and by glibc's malloc (free chunks of libnftables', libpcap's and the runtime's native
/// allocations in its arenas). When at least <see cref="Threshold"/> bytes were allocated since the last trim and the
/// daemon has been quiet for <see cref="Quiet"/> (no change holds the change lock), one compacting, decommitting GC
/// (<see cref="GCCollectionMode.Aggressive"/>) and glibc's <c>malloc_trim(0)</c> run. An idle daemon never trims twice.
/// </summary>
internal sealed class MemoryTrim(SemaphoreSlim changes, Action<string>? log = null)
{
    /// <summary>Managed allocation since the last trim that makes a trim worth its pause (a few ms per 10 MiB of live heap).</summary>
    public long Threshold { get; init; } = 32L * 1024 * 1024;

    /// <summary>How long no change may have run before a trim.</summary>
    public TimeSpan Quiet { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the trim looks.</summary>
    public TimeSpan Period { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The bytes allocated so far: the process's managed allocation (a test gives its own count).</summary>
    public Func<long> Allocated { get; init; } = () => GC.GetTotalAllocatedBytes();

    /// <summary>Runs until <paramref name="stop"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var last = Allocated();
        var quietSince = DateTime.UtcNow;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(Period, stop).ConfigureAwait(false);
                if (changes.CurrentCount == 0)
                {
                    quietSince = DateTime.UtcNow; // a change runs
                    continue;
                }
                if (Allocated() - last < Threshold || DateTime.UtcNow - quietSince < Quiet)
                {
                    continue;
                }
                // hold the change lock for the trim, so that no change pays for its pause half-way
                if (!await changes.WaitAsync(0, stop).ConfigureAwait(false))
                {
                    continue;
                }
                try
                {
                    Trim();
                }
                finally
                {
                    changes.Release();
                }
                last = Allocated();
                log?.Invoke("trimmed: " + global::Daemon.MemoryLine());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One compacting GC that decommits what it frees, then glibc's free memory back to the kernel.</summary>
    public static void Trim()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        try
        {
            _ = malloc_trim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // not glibc (musl): the GC's part is done
        }
    }

    [DllImport("libc", SetLastError = false)]
    private static extern int malloc_trim(nuint pad);
}
