using System.Management.Automation;
using NwFilter.Commands.Jobs;
using NwFilter.Commands.Output;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// What the binding cmdlets add to the runtime (<see cref="NwFilterRuntime"/>): the namespace from -NetworkNamespace
/// or NWFILTER_NETNS, the PowerShell shape of a binding for output, and the learning jobs of the session.
/// </summary>
internal static class BindingAccess
{
    /// <summary>The environment variable naming the network namespace the binding cmdlets drive by default.</summary>
    public const string NamespaceVariable = "NWFILTER_NETNS";

    /// <summary>The namespace to use: the parameter when given, else NWFILTER_NETNS, else null (the host's own).</summary>
    public static string? Namespace(string? parameter) =>
        !string.IsNullOrEmpty(parameter) ? parameter
        : Environment.GetEnvironmentVariable(NamespaceVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
        : null;

    /// <summary>The port devices of a namespace's stored bindings (none when the namespace name is invalid).</summary>
    public static List<string> StoredPorts(string? networkNamespace)
    {
        var status = RuntimeSessions.Current.HandleAsync(new BindingStatusRequest(null, networkNamespace), SilentRuntimeHost.Instance).GetAwaiter().GetResult();
        return [.. status.Bindings.Select(b => b.Binding.PortDevice)];
    }

    /// <summary>
    /// A binding for output, one property per fact under the model's names (OwnerName and Parameters, which the binding
    /// cmdlets' -Owner and -Parameter take by their aliases, so output pipes back into them): MacAddress reads as one
    /// writes it (52:54:00:aa:bb:cc) and Parameters as <see cref="BindingParameters"/> (IP=10.0.0.5, 10.0.0.6), both
    /// shadowing the model's values on this wrapper only; a binding that learns its IP also says how (LearningMode),
    /// where it stands (LearningState), what it learned (LearnedAddress), whether a learner listens now (Listening),
    /// where that learner runs (LearningHost: nwfilterd when the status came from the daemon, Session for a job of this
    /// session) and which job of this session learns it (LearningJob).
    /// </summary>
    public static PSObject ForOutput(BindingStatus status, string? networkNamespace, NwFilterRuntime runtime)
    {
        var binding = status.Binding;
        var learning = status.Learning;
        var o = new PSObject(binding);
        // preValidated: an instance note may shadow the adapted property of the same name (Add-Member -Force does so).
        o.Properties.Add(new PSNoteProperty(nameof(FilterBinding.MacAddress), MacAddressText.Format(binding.MacAddress)), true);
        o.Properties.Add(new PSNoteProperty(nameof(FilterBinding.Parameters), new BindingParameters(binding.Parameters)), true);
        o.Properties.Add(new PSNoteProperty("NetworkNamespace", networkNamespace));
        o.Properties.Add(new PSNoteProperty("LearningMode", learning?.Mode));
        o.Properties.Add(new PSNoteProperty("LearningState", learning?.State));
        // A collection rather than an array: an array's own Address method would hide $b.LearnedAddress.Address.
        o.Properties.Add(new PSNoteProperty("LearnedAddress", (learning?.Addresses ?? []).ToList().AsReadOnly()));
        var job = learning is null or { InDaemon: true } ? null : NwFilterLearningJob.Of(runtime.Learners(networkNamespace).Get(binding.PortDevice));
        o.Properties.Add(new PSNoteProperty("Listening", learning?.Listening));
        o.Properties.Add(new PSNoteProperty("LearningHost", learning is null ? null : learning.InDaemon ? "nwfilterd" : job is not null ? "Session" : null));
        o.Properties.Add(new PSNoteProperty("LearningJob", job));
        return o;
    }

    /// <summary>A binding just applied or restored, for output (its learning status read now).</summary>
    public static PSObject ForOutput(FilterBinding binding, string? networkNamespace, NwFilterRuntime runtime) =>
        ForOutput(new BindingStatus(binding, runtime.Manager(networkNamespace).GetLearningStatus(binding)), networkNamespace, runtime);

    /// <summary>
    /// The job of a learner, added to the session's job repository (Get-Job) when it is not there yet.
    /// </summary>
    public static NwFilterLearningJob TrackLearning(PSCmdlet cmdlet, IpLearner learner, string? networkNamespace)
    {
        var job = NwFilterLearningJob.For(learner, networkNamespace, $"{cmdlet.MyInvocation.MyCommand.Name} {learner.PortDevice}");
        if (cmdlet.JobRepository.GetJob(job.InstanceId) is null)
        {
            cmdlet.JobRepository.Add(job);
        }
        return job;
    }

    /// <summary>True when the command runs with -WhatIf (given, or from $WhatIfPreference).</summary>
    public static bool IsWhatIf(PSCmdlet cmdlet) =>
        cmdlet.MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
            ? value is SwitchParameter s ? s.IsPresent : LanguagePrimitives.IsTrue(value)
            : LanguagePrimitives.IsTrue(cmdlet.GetVariableValue("WhatIfPreference"));
}
