using System.Collections.Concurrent;
using System.Management.Automation;
using NwFilter.Commands.Jobs;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// The PowerShell side of the runtime's host seam, one per command: events become error records, warnings, verbose
/// and information lines; progress becomes Write-Progress; confirmations become ShouldProcess (-WhatIf shows the
/// plan and answers no); started learners become NwFilterLearningJob jobs in the session's job repository.
/// </summary>
/// <remarks>
/// A cmdlet may write only from its pipeline thread. <see cref="Run{T}(Func{CancellationToken, Task{T}})"/> runs the runtime's work on the thread pool
/// while the pipeline thread carries out every host call the work makes (a confirmation waits for its answer). When
/// writing stops the pipeline (-ErrorAction Stop), the work is cancelled and its remaining calls are dropped.
/// </remarks>
internal sealed class PowerShellRuntimeHost : IRuntimeHost
{
    private readonly NwFilterCmdlet _cmdlet;
    private readonly int _pipelineThread = Environment.CurrentManagedThreadId;
    private readonly Dictionary<string, ProgressRecord> _progress = new(StringComparer.Ordinal);
    private BlockingCollection<(Action Run, Action Drop)>? _queue;

    public PowerShellRuntimeHost(NwFilterCmdlet cmdlet) => _cmdlet = cmdlet;

    /// <summary>Called on the pipeline thread for each learning job this command's requests started or kept.</summary>
    public Action<NwFilterLearningJob, LearnerStarted>? JobTracked { get; set; }

    /// <summary>Called on the pipeline thread for each information event, instead of writing it (the learning service).</summary>
    public Func<RuntimeEvent, bool>? BeforeInformation { get; set; }

    /// <summary>Runs <paramref name="work"/> off the pipeline thread and carries out its host calls on it.</summary>
    public T Run<T>(Func<CancellationToken, Task<T>> work) => Run(work, _cmdlet.CancellationToken);

    /// <summary>As <see cref="Run{T}(Func{CancellationToken, Task{T}})"/>, with the token the work is cancelled by.</summary>
    public T Run<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var queue = new BlockingCollection<(Action Run, Action Drop)>();
        _queue = queue;
        var task = Task.Run(async () =>
        {
            try
            {
                return await work(stop.Token).ConfigureAwait(false);
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        Exception? failure = null;
        foreach (var (run, drop) in queue.GetConsumingEnumerable())
        {
            if (failure is not null)
            {
                drop();
                continue;
            }
            try
            {
                run();
            }
            catch (Exception e)
            {
                failure = e; // the pipeline stops (-ErrorAction Stop, Ctrl+C): cancel the work, drop what it still says
                stop.Cancel();
                drop();
            }
        }
        _queue = null;
        CompleteProgress();
        if (failure is not null)
        {
            try
            {
                task.GetAwaiter().GetResult();
            }
            catch (Exception)
            {
                // The work ends with the pipeline; what stopped the pipeline is the error to report.
            }
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        return task.GetAwaiter().GetResult();
    }

    /// <summary>Queues an action for the pipeline thread (from outside the work, such as a job's new output); false when not running.</summary>
    public bool Post(Action action)
    {
        if (_queue is not { } queue)
        {
            return false;
        }
        try
        {
            queue.Add((action, () => { }));
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // completed
        }
    }

    public void Report(RuntimeEvent runtimeEvent) => OnPipeline(() => Write(runtimeEvent));

    public void Progress(RuntimeProgress progress) => OnPipeline(() =>
    {
        // A new record each time: a host that keeps the records (a runspace's Progress stream, a transcript) sees every
        // step, not the last one written into a shared record.
        var id = _progress.TryGetValue(progress.Activity, out var last) ? last.ActivityId : Math.Abs(progress.Activity.GetHashCode(StringComparison.Ordinal) % 1000) + 1;
        var record = new ProgressRecord(id, progress.Activity, string.IsNullOrEmpty(progress.Status) ? "Working" : progress.Status)
        {
            PercentComplete = Math.Clamp(progress.Percent, -1, 100),
        };
        _progress[progress.Activity] = record;
        _cmdlet.WriteProgress(record);
    });

    public void LearnerStarted(LearnerStarted started) => OnPipeline(() =>
    {
        var job = BindingAccess.TrackLearning(_cmdlet, started.Learner, started.NetworkNamespace);
        JobTracked?.Invoke(job, started);
    });

    public bool Confirm(ConfirmationRequest request)
    {
        if (Environment.CurrentManagedThreadId == _pipelineThread || _queue is null)
        {
            return Ask(request);
        }
        var answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _queue.Add((() =>
            {
                try
                {
                    answer.SetResult(Ask(request));
                }
                catch (Exception e)
                {
                    answer.SetException(e);
                    if (e is not Core.Diagnostics.NwFilterException)
                    {
                        throw;
                    }
                }
            }, () => answer.TrySetResult(false)));
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        return answer.Task.GetAwaiter().GetResult();
    }

    private bool Ask(ConfirmationRequest request)
    {
        if (request.Description is not { } description)
        {
            return _cmdlet.ShouldProcess(request.Target, request.Action);
        }
        if (request.Plan is { } plan && BindingAccess.IsWhatIf(_cmdlet))
        {
            description = $"{description} The plan:\n{plan()}";
        }
        return _cmdlet.ShouldProcess(description, request.Query ?? description, request.Caption ?? _cmdlet.MyInvocation.MyCommand.Name);
    }

    private void Write(RuntimeEvent e)
    {
        switch (e.Level)
        {
            case RuntimeEventLevel.Error:
                _cmdlet.WriteError(ErrorRecords.From(e.Error!, e.Target));
                break;
            case RuntimeEventLevel.Warning:
                _cmdlet.WriteWarning(e.Message);
                break;
            case RuntimeEventLevel.Verbose:
                _cmdlet.WriteVerbose(e.Message);
                break;
            case RuntimeEventLevel.Information when e.Id == RuntimeEventIds.BackendChosen:
                // A record for who asks (-InformationAction Continue, -InformationVariable), not a host line.
                _cmdlet.WriteInformation(new InformationRecord(e.Message, "NwFilter") { Tags = { "NwFilter", "Backend" } });
                break;
            case RuntimeEventLevel.Information when e.Id == RuntimeEventIds.BindingRepaired:
                if (BeforeInformation?.Invoke(e) == false)
                {
                    break;
                }
                // Shown as a host line, and tagged so that -InformationVariable can pick the repairs out.
                _cmdlet.WriteInformation(new InformationRecord(new HostInformationMessage { Message = e.Message }, "NwFilter") { Tags = { "PSHOST", "NwFilter", "BindingRepaired" } });
                break;
            case RuntimeEventLevel.Information:
                if (BeforeInformation?.Invoke(e) == false)
                {
                    break;
                }
                // A line for the service's log (the information stream, shown as Write-Host shows it).
                _cmdlet.WriteInformation(new InformationRecord(new HostInformationMessage { Message = e.Message }, "NwFilter") { Tags = { "PSHOST" } });
                break;
            default:
                throw new InvalidOperationException("unknown event level " + e.Level);
        }
    }

    /// <summary>Runs on the pipeline thread: now when called there, else through the running work's queue (dropped when none runs).</summary>
    private void OnPipeline(Action action)
    {
        if (Environment.CurrentManagedThreadId == _pipelineThread)
        {
            action();
            return;
        }
        try
        {
            _queue?.Add((action, () => { }));
        }
        catch (InvalidOperationException)
        {
            // The work has completed: nothing may write any more.
        }
    }

    private void CompleteProgress()
    {
        foreach (var last in _progress.Values)
        {
            _cmdlet.WriteProgress(new ProgressRecord(last.ActivityId, last.Activity, last.StatusDescription) { RecordType = ProgressRecordType.Completed });
        }
        _progress.Clear();
    }
}
