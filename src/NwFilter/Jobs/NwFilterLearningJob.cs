using System.Management.Automation;
using System.Runtime.CompilerServices;
using NwFilter.Core.Apply;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;

namespace NwFilter.Commands.Jobs;

/// <summary>
/// A PowerShell job that shows one binding's IP address learner: named after the port device, of type
/// NwFilterLearningJob, Running while the learner listens. Its output is the learner's events, as typed objects
/// (AddressLearned, LeaseRenewed, LeaseExpired, LeaseReleased, LeasesRestored, ReinstantiationSucceeded,
/// ReinstantiationFailed, LearningWarning, LearningFailed, LearningStopped); Receive-Job returns them.
/// </summary>
/// <remarks>
/// The job ends with its learner: Completed when <c>any</c> mode has learned its address, Stopped when Stop-Job,
/// Remove-NwFilterBinding or a new binding for the port stopped it, Failed when the capture failed (the reason is the
/// job's error stream, which Receive-Job shows). Stop-Job stops learning and leaves the port's current rules in force.
/// </remarks>
public sealed class NwFilterLearningJob : Job
{
    /// <summary>The job type name shown by Get-Job (PSJobTypeName).</summary>
    public const string JobTypeName = "NwFilterLearningJob";

    // One job per learner, whichever command asks.
    private static readonly ConditionalWeakTable<IpLearner, NwFilterLearningJob> Jobs = new();

    private readonly IpLearner _learner;
    private readonly Task _pump;
    private Exception? _failure;

    private NwFilterLearningJob(IpLearner learner, string? networkNamespace, string command)
        : base(command, learner.PortDevice)
    {
        _learner = learner;
        NetworkNamespace = networkNamespace;
        PSJobTypeName = JobTypeName;
        SetJobState(JobState.Running);
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>The binding's port device (also the job's name).</summary>
    public string PortDevice => _learner.PortDevice;

    /// <summary>The network namespace of the binding; null for the host's own.</summary>
    public string? NetworkNamespace { get; }

    /// <summary>How the learner learns: any or dhcp.</summary>
    public IpLearningMode LearningMode => _learner.Mode;

    /// <summary>The learner's state now.</summary>
    public IpLearningState LearningState => _learner.State;

    /// <summary>The addresses the learner holds now.</summary>
    public IReadOnlyList<LearnedAddress> LearnedAddress => _learner.Addresses.ToList().AsReadOnly();

    /// <inheritdoc/>
    public override bool HasMoreData => Output.Count > 0 || Error.Count > 0 || Warning.Count > 0;

    /// <inheritdoc/>
    public override string Location => NetworkNamespace ?? "localhost";

    /// <inheritdoc/>
    public override string StatusMessage => _learner.ToString();

    /// <summary>The job of <paramref name="learner"/>, made on first use.</summary>
    internal static NwFilterLearningJob For(IpLearner learner, string? networkNamespace, string command) =>
        Jobs.GetValue(learner, l => new NwFilterLearningJob(l, networkNamespace, command));

    /// <summary>The job of <paramref name="learner"/> if one was made, else null.</summary>
    internal static NwFilterLearningJob? Of(IpLearner? learner) =>
        learner is not null && Jobs.TryGetValue(learner, out var job) ? job : null;

    /// <summary>Stop-Job: stops listening and waits until the learner has ended. The port keeps the rules it has.</summary>
    public override void StopJob()
    {
        if (IsFinishedState(JobStateInfo.State))
        {
            return;
        }
        _learner.StopAsync().GetAwaiter().GetResult();
        _pump.GetAwaiter().GetResult();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            StopJob();
        }
        base.Dispose(disposing);
    }

    private async Task PumpAsync()
    {
        try
        {
            await foreach (var e in _learner.Events.ReadAllAsync().ConfigureAwait(false))
            {
                if (e is LearningFailed { Exception: var failure } lf)
                {
                    _failure = failure ?? new InvalidOperationException(lf.Reason);
                }
                else if (e is ReinstantiationFailed rf && _learner.Mode == IpLearningMode.Any)
                {
                    _failure = rf.Exception ?? new InvalidOperationException(rf.Reason);
                }
                Output.Add(PSObject.AsPSObject(e));
            }
        }
        finally
        {
            await _learner.Completion.ConfigureAwait(false);
            switch (_learner.State)
            {
                case IpLearningState.Failed:
                    var failure = _failure ?? new InvalidOperationException($"Learning on {PortDevice} failed.");
                    Error.Add(new ErrorRecord(failure, "LearningFailed", ErrorCategory.ResourceUnavailable, PortDevice)
                    {
                        ErrorDetails = new ErrorDetails($"Learning the IP address of {PortDevice} failed: {failure.Message}"),
                    });
                    SetJobState(JobState.Failed);
                    break;
                case IpLearningState.Stopped:
                    SetJobState(JobState.Stopped);
                    break;
                default:
                    SetJobState(JobState.Completed);
                    break;
            }
        }
    }

    private static bool IsFinishedState(JobState state) => state is JobState.Completed or JobState.Failed or JobState.Stopped;
}
