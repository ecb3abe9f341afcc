using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;

namespace NwFilter.Core.Runtime;

/// <summary>
/// What a host of the <see cref="NwFilterRuntime"/> is told and asked while a request runs (docs/design/runtime.md):
/// events with ids (errors of single items, warnings, verbose and information lines), progress, the learners that
/// started, and confirmations. The runtime may call it from any thread; a host whose output must come from one
/// thread (PowerShell's pipeline thread) marshals the calls there. A host that streams writes what it is told as it
/// comes; the response record of a request is the summary (what a socket reply carries).
/// </summary>
public interface IRuntimeHost
{
    /// <summary>An event: an item's error, a warning, a verbose or an information line.</summary>
    void Report(RuntimeEvent runtimeEvent);

    /// <summary>Where a long step stands.</summary>
    void Progress(RuntimeProgress progress);

    /// <summary>A binding's learner started (or kept running): a host may follow its events.</summary>
    void LearnerStarted(LearnerStarted started);

    /// <summary>
    /// Asks whether to go on with one change (the ShouldProcess of PowerShell). False skips that item; a -WhatIf host
    /// shows <see cref="ConfirmationRequest.Plan"/> and answers false. May throw <see cref="NwFilterException"/> (a
    /// plan that cannot be made): the item then fails with that error.
    /// </summary>
    bool Confirm(ConfirmationRequest request);
}

/// <summary>How much an event matters.</summary>
public enum RuntimeEventLevel
{
    /// <summary>Detail for who asks for it (Write-Verbose).</summary>
    Verbose,
    /// <summary>A line of a service's log (what the learning service says on start and stop).</summary>
    Information,
    /// <summary>Something the user should know; the request went on.</summary>
    Warning,
    /// <summary>One item failed (<see cref="RuntimeEvent.Error"/>); the others went on.</summary>
    Error,
}

/// <summary>An event of a running request.</summary>
/// <param name="Level">Verbose, information, warning or error.</param>
/// <param name="Id">A stable identifier: a diagnostic's code, or one of <see cref="RuntimeEventIds"/>.</param>
/// <param name="Message">The text for a person.</param>
public sealed record RuntimeEvent(RuntimeEventLevel Level, string Id, string Message)
{
    /// <summary>The error of an <see cref="RuntimeEventLevel.Error"/> event.</summary>
    public NwFilterException? Error { get; init; }

    /// <summary>What the event is about: a port device, a filter, a source file; null for the request as a whole.</summary>
    public string? Target { get; init; }

    /// <summary>The network namespace the event is about; null for the host's own (or none).</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>A warning event for a diagnostic (its id is the diagnostic's code).</summary>
    public static RuntimeEvent Warning(Diagnostic diagnostic) =>
        new(RuntimeEventLevel.Warning, diagnostic.Code, diagnostic.ToString());

    /// <summary>An error event for an item.</summary>
    public static RuntimeEvent Failed(NwFilterException error, string? target) =>
        new(RuntimeEventLevel.Error, error.Primary.Code, error.Message) { Error = error, Target = target };
}

/// <summary>The ids of the runtime's own events (diagnostics keep their codes).</summary>
public static class RuntimeEventIds
{
    /// <summary>Bindings were applied to the kernel and stored.</summary>
    public const string BindingsApplied = "BindingsApplied";
    /// <summary>Bindings were removed from the kernel and the store.</summary>
    public const string BindingsRemoved = "BindingsRemoved";
    /// <summary>A restore found a port's rules not as its binding says (or chains without a binding) and repaired it; verbose for a port found in sync.</summary>
    public const string BindingRepaired = "BindingRepaired";
    /// <summary>Bindings using a redefined filter were re-instantiated.</summary>
    public const string BindingsReapplied = "BindingsReapplied";
    /// <summary>After a failed re-instantiation, restoring the previous rules failed too.</summary>
    public const string ReapplyPreviousFailed = "ReapplyPreviousFailed";
    /// <summary>A network namespace with stored bindings no longer exists.</summary>
    public const string NamespaceGone = "NamespaceGone";
    /// <summary>The learning service started its learners.</summary>
    public const string LearningServiceStarted = "LearningServiceStarted";
    /// <summary>The learning service stopped.</summary>
    public const string LearningServiceStopped = "LearningServiceStopped";
    /// <summary>A learner of another session was taken over.</summary>
    public const string LearningTakenOver = "LearningTakenOver";
    /// <summary>The backend of bindings that named none was chosen (verbose and information; the message says which and why).</summary>
    public const string BackendChosen = "BackendChosen";
    /// <summary>nftables, the default, is unusable and no nftables binding exists: the bindings that named no backend got EbIpTables (a warning).</summary>
    public const string BackendFellBack = "BackendFellBack";
    /// <summary>A learner stopped because its binding was removed.</summary>
    public const string LearningStoppedBindingRemoved = "LearningStoppedBindingRemoved";
    /// <summary>The service's drift repair started (information: what it watches, how often it checks).</summary>
    public const string DriftRepairStarted = "DriftRepairStarted";
    /// <summary>The drift repair checked the bindings (verbose: why, how many drifted, how long).</summary>
    public const string DriftChecked = "DriftChecked";
    /// <summary>Bindings whose rules were removed or changed behind NwFilter's back were found (a warning naming them and what differs).</summary>
    public const string DriftFound = "DriftFound";
    /// <summary>Drifted bindings were re-applied (information: which, how long; a DriftRepairGaveUp follows for any still drifted after).</summary>
    public const string DriftRepaired = "DriftRepaired";
    /// <summary>Re-applying a drifted binding failed (an error with the binding's error).</summary>
    public const string DriftRepairFailed = "DriftRepairFailed";
    /// <summary>A binding still drifted after its re-application: not re-applied again until its drift or binding changes (a warning).</summary>
    public const string DriftRepairGaveUp = "DriftRepairGaveUp";
    /// <summary>A drift check failed (a warning; the next signal or period checks again).</summary>
    public const string DriftCheckFailed = "DriftCheckFailed";
    /// <summary>A change source (the nf_tables events) stopped: only the periodic check is left (a warning).</summary>
    public const string DriftWatchEnded = "DriftWatchEnded";
}

/// <summary>Progress of one activity.</summary>
/// <param name="Activity">What runs, such as "Applying network filter bindings" (one progress bar per activity).</param>
/// <param name="Status">The step now.</param>
/// <param name="Percent">0 to 100.</param>
public sealed record RuntimeProgress(string Activity, string Status, int Percent);

/// <summary>A binding's learner that started or keeps running.</summary>
/// <param name="Learner">The learner; its events are in <see cref="IpLearner.Events"/>.</param>
/// <param name="NetworkNamespace">The binding's namespace; null for the host's own.</param>
public sealed record LearnerStarted(IpLearner Learner, string? NetworkNamespace)
{
    /// <summary>The port device the learner watches.</summary>
    public string PortDevice => Learner.PortDevice;
}

/// <summary>A change the runtime wants to make, for the host to allow or refuse.</summary>
/// <param name="Target">What is changed, such as "port vnet0 in network namespace lab".</param>
/// <param name="Action">The change, such as "Re-apply filter 'clean-traffic'".</param>
public sealed record ConfirmationRequest(string Target, string Action)
{
    /// <summary>The change as one sentence (a PowerShell host's verbose description); null: from Target and Action.</summary>
    public string? Description { get; init; }

    /// <summary>The change as a question (the confirmation prompt); null: from the description.</summary>
    public string? Query { get; init; }

    /// <summary>The prompt's caption (the command); null: none.</summary>
    public string? Caption { get; init; }

    /// <summary>The exact plan (restore files, nft script), made on demand (for -WhatIf): reading the firewall costs.</summary>
    public Func<string>? Plan { get; init; }
}

/// <summary>A host that writes nothing and allows every change (tests, embedding).</summary>
public sealed class SilentRuntimeHost : IRuntimeHost
{
    /// <summary>The one instance.</summary>
    public static SilentRuntimeHost Instance { get; } = new();

    private SilentRuntimeHost()
    {
    }

    /// <inheritdoc/>
    public void Report(RuntimeEvent runtimeEvent)
    {
    }

    /// <inheritdoc/>
    public void Progress(RuntimeProgress progress)
    {
    }

    /// <inheritdoc/>
    public void LearnerStarted(LearnerStarted started)
    {
    }

    /// <inheritdoc/>
    public bool Confirm(ConfirmationRequest request) => true;
}
