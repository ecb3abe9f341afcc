using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>What <see cref="FaultyRunner"/> does to one call.</summary>
public enum Fault
{
    /// <summary>Runs it.</summary>
    None,
    /// <summary>Does not run it; returns exit code 1 with "injected failure" on stderr (a tool that fails).</summary>
    Fail,
    /// <summary>Runs it and kills it (SIGKILL) while it runs: a transaction tool after it has read part of its input.</summary>
    Kill,
    /// <summary>Throws, and every later call throws too: our own process died at this point.</summary>
    Crash,
}

/// <summary>A runner decorator that injects failures by call number (1-based) and records every call.</summary>
public sealed class FaultyRunner(IProcessRunner inner, Func<int, ProcessRequest, Fault> decide) : IProcessRunner
{
    // A tool with input is fed its first 64 bytes, then nothing for 3 s, and killed after 0.3 s: in the middle of
    // reading its transaction. A tool without input is killed before it can finish: it stops itself before exec, so a
    // fast tool (iptables-save) cannot win the race against the kill.
    private const string KillWhileReading = "( dd bs=64 count=1 2>/dev/null; sleep 3; cat ) | \"$@\" & p=$!; sleep 0.3; kill -9 $p; wait $p";
    private const string KillAtOnce = "sh -c 'kill -STOP $$; exec \"$@\"' sh \"$@\" & p=$!; kill -9 $p; wait $p";

    private readonly object _gate = new();
    private bool _dead;

    public List<string> Calls { get; } = [];

    public async Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
    {
        int n;
        lock (_gate)
        {
            if (_dead)
            {
                throw new InvalidOperationException("the process is dead (simulated crash)");
            }
            Calls.Add(request.Program);
            n = Calls.Count;
        }
        switch (decide(n, request))
        {
            case Fault.Fail:
                return new ProcessResult(request, 1, "", $"{request.Program}: injected failure", TimeSpan.Zero);
            case Fault.Kill:
                return await inner.RunAsync(Killed(request), cancellationToken);
            case Fault.Crash:
                lock (_gate)
                {
                    _dead = true;
                }
                throw new InvalidOperationException("simulated crash");
            default:
                return await inner.RunAsync(request, cancellationToken);
        }
    }

    private static ProcessRequest Killed(ProcessRequest request) =>
        new("sh", ["-c", request.StandardInput is null ? KillAtOnce : KillWhileReading, "sh", request.Program, .. request.Arguments])
        {
            StandardInput = request.StandardInput ?? "",
            Timeout = request.Timeout,
        };
}
