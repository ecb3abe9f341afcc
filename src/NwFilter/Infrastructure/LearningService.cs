using System.Management.Automation;
using System.Runtime.InteropServices;
using NwFilter.Commands.Jobs;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// Restore-NwFilterBinding -Wait: keeps the process learning until Ctrl+C or SIGTERM. On the pipeline thread it
/// writes every learner's events as they come, and it watches the binding store, so bindings that other processes
/// create (whose own learners end with them) are taken over, and learners of bindings removed elsewhere stop. On the
/// way out it stops every learner of the namespace; the ports keep the rules they have.
/// </summary>
internal sealed class LearningService
{
    private static readonly TimeSpan ScanInterval = TimeSpan.FromSeconds(1);

    private readonly PSCmdlet _cmdlet;
    private readonly BindingManager _manager;
    private readonly List<NwFilterLearningJob> _jobs = [];
    private readonly AutoResetEvent _signal = new(false);
    private Dictionary<string, DateTime> _seen = [];

    public LearningService(PSCmdlet cmdlet, BindingManager manager)
    {
        _cmdlet = cmdlet;
        _manager = manager;
    }

    /// <summary>Adds a job whose events are written.</summary>
    public void Add(NwFilterLearningJob job)
    {
        if (_jobs.Contains(job))
        {
            return;
        }
        _jobs.Add(job);
        job.Output.DataAdded += (_, _) => _signal.Set();
        job.StateChanged += (_, _) => _signal.Set();
    }

    /// <summary>Runs until <paramref name="stopping"/> is cancelled or SIGTERM arrives.</summary>
    public void Run(CancellationToken stopping)
    {
        using var terminate = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true; // not the runtime's immediate exit: end the command, then pwsh ends normally
            terminate.Cancel();
        });
        using var wake = terminate.Token.Register(() => _signal.Set());
        _seen = Scan();
        Announce($"NwFilter learning{Where()}: {Describe()}. Ctrl+C or SIGTERM stops learning; the rules in force stay.");
        try
        {
            var lastScan = DateTime.UtcNow;
            while (!terminate.IsCancellationRequested)
            {
                _signal.WaitOne(ScanInterval);
                WriteEvents(terminate.Token);
                if (!terminate.IsCancellationRequested && DateTime.UtcNow - lastScan >= ScanInterval)
                {
                    Adopt(terminate.Token);
                    lastScan = DateTime.UtcNow;
                }
            }
        }
        finally
        {
            var learners = _manager.Learners?.Learners.Count ?? 0;
            _manager.Learners?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            foreach (var job in _jobs)
            {
                job.Finished.WaitOne(TimeSpan.FromSeconds(5)); // its last events are in its output once it has finished
            }
            if (!stopping.IsCancellationRequested)
            {
                WriteEvents(CancellationToken.None);
                Announce($"NwFilter learning{Where()} stopped ({learners} learner(s)); the rules in force stay.");
            }
        }
    }

    private void WriteEvents(CancellationToken token)
    {
        foreach (var job in _jobs)
        {
            foreach (var e in job.Output.ReadAll())
            {
                if (token.IsCancellationRequested && _cmdlet.Stopping)
                {
                    return;
                }
                _cmdlet.WriteObject(e);
            }
        }
    }

    /// <summary>Takes over bindings that changed in the store since the last look, and stops learners of removed ones.</summary>
    private void Adopt(CancellationToken token)
    {
        var now = Scan();
        var changed = now.Where(p => !_seen.TryGetValue(p.Key, out var t) || t != p.Value).Select(p => p.Key).ToList();
        var removed = _seen.Keys.Where(p => !now.ContainsKey(p)).ToList();
        _seen = now;
        foreach (var port in removed)
        {
            if (_manager.Learners?.Get(port) is not null)
            {
                _manager.Learners.StopAsync(port).GetAwaiter().GetResult();
                Announce($"The binding of {port} was removed: learning on it stopped.");
            }
        }
        var adopt = new List<string>();
        foreach (var port in changed)
        {
            var binding = Read(port);
            if (binding is not null && _manager.GetLearningStatus(binding) is { Listening: false } status &&
                !(status.Mode == Core.Resolution.IpLearningMode.Any && status.State == Core.Learning.IpLearningState.Learned))
            {
                adopt.Add(port);
            }
        }
        if (adopt.Count == 0)
        {
            return;
        }
        var result = _manager.RestoreAsync(adopt, null, token).GetAwaiter().GetResult();
        foreach (var item in result.Items)
        {
            if (item.Error is { } error)
            {
                _cmdlet.WriteError(ErrorRecords.From(error, item.PortDevice));
            }
            if (BindingAccess.TrackLearning(_cmdlet, item, _manager.NetworkNamespace) is { } job)
            {
                Add(job);
                Announce($"Took over the binding of {item.PortDevice}: learning ({job.LearningMode.ToString().ToLowerInvariant()}).");
            }
        }
        _seen = Scan(); // our own restore rewrote the files
    }

    private Core.Model.FilterBinding? Read(string port)
    {
        try
        {
            return _manager.Store.Get(port);
        }
        catch (NwFilterException e)
        {
            _cmdlet.WriteError(ErrorRecords.From(e, port));
            return null;
        }
    }

    /// <summary>The binding files and their last write times.</summary>
    private Dictionary<string, DateTime> Scan()
    {
        var directory = _manager.Store.Directory;
        if (!Directory.Exists(directory))
        {
            return [];
        }
        return Directory.EnumerateFiles(directory, "*.xml")
            .Where(f => !Core.Store.AtomicFile.IsTempFile(Path.GetFileName(f)))
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f), File.GetLastWriteTimeUtc, StringComparer.Ordinal);
    }

    private string Describe()
    {
        var running = _jobs.Where(j => j.JobStateInfo.State == JobState.Running).ToList();
        return running.Count == 0
            ? "no binding learns its address now; watching for new bindings"
            : "learning on " + string.Join(", ", running.Select(j => $"{j.PortDevice} ({j.LearningMode.ToString().ToLowerInvariant()})"));
    }

    private string Where() => _manager.NetworkNamespace is null ? "" : $" in network namespace {_manager.NetworkNamespace}";

    /// <summary>A line for the service's log (the information stream, shown as Write-Host shows it).</summary>
    private void Announce(string message) =>
        _cmdlet.WriteInformation(new InformationRecord(new HostInformationMessage { Message = message }, "NwFilter") { Tags = { "PSHOST" } });
}
