using System.Management.Automation;
using System.Runtime.InteropServices;
using NwFilter.Commands.Jobs;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// Restore-NwFilterBinding -Wait: the PowerShell part of the runtime's learning service
/// (<see cref="LearningServiceRequest"/>), which is signal and stream mapping only. Ctrl+C and SIGTERM end the
/// service; every learner's events (from the jobs of the bindings restored or taken over) are written to the output
/// on the pipeline thread as they come, and the service's log lines to the information stream.
/// </summary>
internal sealed class LearningService
{
    private readonly NwFilterCmdlet _cmdlet;
    private readonly PowerShellRuntimeHost _host;
    private readonly List<NwFilterLearningJob> _jobs = [];

    /// <summary>Follows the jobs of every learner <paramref name="host"/> reports from now on (the restore first).</summary>
    public LearningService(NwFilterCmdlet cmdlet, PowerShellRuntimeHost host)
    {
        _cmdlet = cmdlet;
        _host = host;
        host.JobTracked = (job, _) => Add(job);
        host.BeforeInformation = e =>
        {
            if (_cmdlet.Stopping)
            {
                return false; // Ctrl+C: nothing may be written any more
            }
            if (e.Id == RuntimeEventIds.LearningServiceStopped)
            {
                foreach (var job in _jobs)
                {
                    job.Finished.WaitOne(TimeSpan.FromSeconds(5)); // its last events are in its output once it has finished
                }
            }
            WriteEvents();
            return true;
        };
    }

    /// <summary>Runs the service until Ctrl+C or SIGTERM.</summary>
    public void Run(NwFilterRuntime runtime, BindingsResponse restored)
    {
        using var terminate = CancellationTokenSource.CreateLinkedTokenSource(_cmdlet.CancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true; // not the runtime's immediate exit: end the command, then pwsh ends normally
            terminate.Cancel();
        });
        _host.Run(token => runtime.HandleAsync(new LearningServiceRequest(restored.NetworkNamespace, restored), _host, token), terminate.Token);
    }

    private void Add(NwFilterLearningJob job)
    {
        if (_jobs.Contains(job))
        {
            return;
        }
        _jobs.Add(job);
        job.Output.DataAdded += (_, _) => _host.Post(WriteEvents);
    }

    private void WriteEvents()
    {
        foreach (var job in _jobs)
        {
            foreach (var e in job.Output.ReadAll())
            {
                if (_cmdlet.Stopping)
                {
                    return;
                }
                _cmdlet.WriteObject(e);
            }
        }
    }
}
