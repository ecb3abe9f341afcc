using System.Collections.Concurrent;
using System.Management.Automation;
using NwFilter.Commands.Jobs;
using NwFilter.Core.Apply;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Store;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// How the binding cmdlets reach the firewall and the binding store. The network namespace is -NetworkNamespace, else
/// the NWFILTER_NETNS environment variable, else the host's own; the store lives under the state directory
/// (NWFILTER_STATE_DIR), one folder per namespace.
/// </summary>
internal static class BindingAccess
{
    /// <summary>The environment variable naming the network namespace the binding cmdlets drive by default.</summary>
    public const string NamespaceVariable = "NWFILTER_NETNS";

    // The learners live as long as the process (the session): one registry per lease folder, that is per state
    // directory and network namespace, shared by every command.
    private static readonly ConcurrentDictionary<string, IpLearnerRegistry> Registries = new(StringComparer.Ordinal);

    /// <summary>The namespace to use: the parameter when given, else NWFILTER_NETNS, else null (the host's own).</summary>
    public static string? Namespace(string? parameter) =>
        !string.IsNullOrEmpty(parameter) ? parameter
        : Environment.GetEnvironmentVariable(NamespaceVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
        : null;

    public static BindingManager Open(string? networkNamespace) => new(new BindingManagerOptions
    {
        NetworkNamespace = networkNamespace,
        Filters = FilterStoreAccess.Open(),
        Store = BindingStore.Open(StoreLocation.Resolve(), networkNamespace),
        Learners = Learners(networkNamespace),
    });

    /// <summary>The learners of a namespace's bindings in this process (made on first use).</summary>
    public static IpLearnerRegistry Learners(string? networkNamespace)
    {
        var leases = LeaseStore.Open(StoreLocation.Resolve(), networkNamespace);
        return Registries.GetOrAdd(leases.Directory, _ => new IpLearnerRegistry(leases));
    }

    /// <summary>
    /// A binding for output: Owner and Parameter alias OwnerName and Parameters, so output pipes back into the cmdlets;
    /// a binding that learns its IP also says how (LearningMode), where it stands (LearningState), what it learned
    /// (LearnedAddress) and which job of this session learns it (LearningJob).
    /// </summary>
    public static PSObject ForOutput(FilterBinding binding, BindingManager manager)
    {
        var o = new PSObject(binding);
        o.Properties.Add(new PSAliasProperty("Owner", nameof(FilterBinding.OwnerName)));
        o.Properties.Add(new PSAliasProperty("Parameter", nameof(FilterBinding.Parameters)));
        o.Properties.Add(new PSNoteProperty("NetworkNamespace", manager.NetworkNamespace));
        var status = manager.GetLearningStatus(binding);
        o.Properties.Add(new PSNoteProperty("LearningMode", status?.Mode));
        o.Properties.Add(new PSNoteProperty("LearningState", status?.State));
        // A collection rather than an array: an array's own Address method would hide $b.LearnedAddress.Address.
        o.Properties.Add(new PSNoteProperty("LearnedAddress", (status?.Addresses ?? []).ToList().AsReadOnly()));
        o.Properties.Add(new PSNoteProperty("LearningJob", status is null ? null : NwFilterLearningJob.Of(manager.Learners?.Get(binding.PortDevice))));
        return o;
    }

    /// <summary>
    /// The job of a binding's learner, added to the session's job repository (Get-Job) when it is not there yet; null
    /// when the binding has no learner.
    /// </summary>
    public static NwFilterLearningJob? TrackLearning(PSCmdlet cmdlet, BindingResult item, string? networkNamespace)
    {
        if (item.Learner is not { } learner)
        {
            return null;
        }
        var job = NwFilterLearningJob.For(learner, networkNamespace, $"{cmdlet.MyInvocation.MyCommand.Name} {learner.PortDevice}");
        if (cmdlet.JobRepository.GetJob(job.InstanceId) is null)
        {
            cmdlet.JobRepository.Add(job);
        }
        return job;
    }

    /// <summary>
    /// Runs core work on the thread pool while this (pipeline) thread turns its progress reports into Write-Progress
    /// records, as cmdlets may only write from the pipeline thread.
    /// </summary>
    public static T RunWithProgress<T>(Cmdlet cmdlet, string activity, Func<Action<BindingProgress>, Task<T>> work)
    {
        using var queue = new BlockingCollection<BindingProgress>();
        var task = Task.Run(async () =>
        {
            try
            {
                return await work(p => queue.Add(p)).ConfigureAwait(false);
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        var record = new ProgressRecord(Math.Abs(activity.GetHashCode(StringComparison.Ordinal) % 1000) + 1, activity, "Starting");
        foreach (var p in queue.GetConsumingEnumerable())
        {
            record.StatusDescription = p.Status;
            record.PercentComplete = p.Percent;
            cmdlet.WriteProgress(record);
        }
        record.RecordType = ProgressRecordType.Completed;
        cmdlet.WriteProgress(record);
        return task.GetAwaiter().GetResult();
    }

    /// <summary>True when the command runs with -WhatIf (given, or from $WhatIfPreference).</summary>
    public static bool IsWhatIf(PSCmdlet cmdlet) =>
        cmdlet.MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
            ? value is SwitchParameter s ? s.IsPresent : LanguagePrimitives.IsTrue(value)
            : LanguagePrimitives.IsTrue(cmdlet.GetVariableValue("WhatIfPreference"));

    /// <summary>The namespaces that have a binding folder under the state directory (null first: the host's own).</summary>
    public static IEnumerable<string?> NamespacesWithBindings()
    {
        var state = StoreLocation.Resolve().StateDirectory;
        if (Directory.Exists(Path.Combine(state, BindingStore.DirectoryName)))
        {
            yield return null;
        }
        var named = Path.Combine(state, BindingStore.NamespacesDirectoryName);
        if (Directory.Exists(named))
        {
            foreach (var dir in Directory.EnumerateDirectories(named).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(dir);
                if (Core.Host.NetworkNamespace.IsValidName(name))
                {
                    yield return name;
                }
            }
        }
    }
}
