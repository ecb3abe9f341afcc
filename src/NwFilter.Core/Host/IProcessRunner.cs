namespace NwFilter.Core.Host;

/// <summary>
/// Runs host programs. The only door from NwFilter to the host: the executor goes through it, tests replace it with a
/// recorder, and <see cref="NamespacedProcessRunner"/> points it at a network namespace.
/// </summary>
public interface IProcessRunner
{
    /// <summary>
    /// Runs the program to completion. A program that fails returns a result with its exit code (it does not throw);
    /// cancellation kills the program and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default);
}
