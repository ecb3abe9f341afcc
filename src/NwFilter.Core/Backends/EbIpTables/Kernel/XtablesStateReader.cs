using NwFilter.Core.Apply;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables.Kernel;

/// <summary>Reads the <see cref="KernelState"/> of the host: one <c>*-save</c> process per family, run together.</summary>
internal static class XtablesStateReader
{
    /// <summary>The save program of a family and its arguments (only NwFilter's table).</summary>
    public static ProcessRequest SaveRequest(XtablesFamily family) =>
        new(RestoreScript.ProgramName(family) + "-save", "-t", XtablesTable.TableOf(family)) { Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>Reads the three tables (one save process per family, run together).</summary>
    public static async Task<KernelState> ReadAsync(IProcessRunner runner, ProcessCounter counter, CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(KernelState.Families.Select(f => counter.RunAsync(runner, SaveRequest(f), cancellationToken))).ConfigureAwait(false);
        var tables = new XtablesTable[3];
        for (var i = 0; i < 3; i++)
        {
            var result = results[i];
            if (!result.Succeeded)
            {
                throw ApplyErrors.ToolFailed("reading the firewall", result, null, null);
            }
            tables[i] = XtablesTable.Parse(KernelState.Families[i], XtablesTable.TableOf(KernelState.Families[i]), result.StandardOutput);
        }
        return new KernelState(tables[0], tables[1], tables[2]);
    }
}

/// <summary>Counts the processes an operation launches (the figure that decides its speed) and runs them.</summary>
internal sealed class ProcessCounter
{
    private int _count;

    public int Count => _count;

    public Task<ProcessResult> RunAsync(IProcessRunner runner, ProcessRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        return runner.RunAsync(request, cancellationToken);
    }
}
