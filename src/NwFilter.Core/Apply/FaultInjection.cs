using System.Globalization;
using System.Runtime.InteropServices;
using NwFilter.Core.Host;

namespace NwFilter.Core.Apply;

/// <summary>
/// The crash seam of the apply path (docs/design/applying.md, "Crash at any point"): the environment variable
/// <c>NWFILTER_FAULT_KILL</c>, read once when the process first applies, names a point and an occurrence,
/// <c>POINT:N</c>, at whose N-th passage the process SIGKILLs itself: no finally block, no flush, as a power cut or an
/// OOM kill would end it. Points: <c>store-written</c> (the binding files are written, the firewall not yet changed),
/// <c>host-process</c> (a host program, a read or a committed transaction, has just returned; so N walks through every
/// step of a batch), <c>backend-applied</c> (a backend's step of a batch has committed). Unset, it costs one static
/// null check per point.
/// </summary>
internal static class FaultInjection
{
    internal const string Variable = "NWFILTER_FAULT_KILL";

    internal const string StoreWritten = "store-written";

    internal const string HostProcess = "host-process";

    internal const string BackendApplied = "backend-applied";

    private static readonly (string Point, int Occurrence)? Target = Parse(Environment.GetEnvironmentVariable(Variable));

    private static int _passed;

    internal static bool Active => Target is not null;

    /// <summary>Passes <paramref name="point"/>: the process dies here if it is the configured point's occurrence.</summary>
    internal static void Hit(string point)
    {
        if (Target is not { } target || target.Point != point)
        {
            return;
        }
        if (Interlocked.Increment(ref _passed) == target.Occurrence)
        {
            Console.Error.Flush();
            _ = kill(Environment.ProcessId, 9);
            Thread.Sleep(Timeout.Infinite);
        }
    }

    /// <summary>The runner that passes <see cref="HostProcess"/> after each program returns.</summary>
    internal static IProcessRunner Wrap(IProcessRunner runner) => Active ? new Runner(runner) : runner;

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }
        var colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? (value[..colon], n)
            : throw new InvalidOperationException($"{Variable}='{value}' is not POINT:N (N from 1).");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private sealed class Runner(IProcessRunner inner) : IProcessRunner
    {
        public async Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
        {
            var result = await inner.RunAsync(request, cancellationToken).ConfigureAwait(false);
            Hit(HostProcess);
            return result;
        }
    }
}
