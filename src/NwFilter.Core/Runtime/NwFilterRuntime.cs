using NwFilter.Core.Backends;
using System.Collections.Concurrent;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Learning;
using NwFilter.Core.Store;

namespace NwFilter.Core.Runtime;

/// <summary>
/// The engine's session, one per store location, built by a host (the PowerShell module, the console host, a future
/// daemon) and driven through request records (<see cref="ApplyBindingsRequest"/> and the others, one HandleAsync
/// each). It owns the filter store, one <see cref="BindingManager"/> per network namespace (made on demand and kept),
/// the learner registries (one per lease folder), namespace discovery, and the re-application of every namespace's
/// bindings after a filter change, with the revert when one fails. It reports through the
/// <see cref="IRuntimeHost"/> given with each request and keeps no host state. Thread-safe. See docs/design/runtime.md.
/// </summary>
public sealed partial class NwFilterRuntime : IAsyncDisposable
{
    /// <summary>Where <c>ip netns</c> keeps the named network namespaces.</summary>
    public const string NamedNamespaceDirectory = "/run/netns";

    private readonly ConcurrentDictionary<string, BindingManager> _managers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IpLearnerRegistry> _registries = new(StringComparer.Ordinal);

    /// <summary>Creates the engine over the stores and host the options name (the system defaults when null).</summary>
    public NwFilterRuntime(NwFilterRuntimeOptions? options = null)
    {
        Options = options ?? new NwFilterRuntimeOptions();
        if (Options.DefaultNamespace is { } ns && !NetworkNamespace.IsValidName(ns))
        {
            throw new ArgumentException($"'{ns}' is not a valid network namespace name.", nameof(options));
        }
        Location = Options.Location ?? StoreLocation.Resolve();
        Filters = new FilterStore(Location.FilterDirectory, new FilterStoreOptions { BindingUsage = new StateDirectoryBindingUsage(() => Location) });
    }

    /// <summary>What the runtime was created with.</summary>
    public NwFilterRuntimeOptions Options { get; }

    /// <summary>The store location: filters under its configuration directory, bindings and leases under its state directory.</summary>
    public StoreLocation Location { get; }

    /// <summary>The filter store (its in-use check sees the bindings of every namespace under the state directory).</summary>
    public FilterStore Filters { get; }

    /// <summary>The namespace a request means: the one it names, else the default (null: the host's own).</summary>
    public string? Namespace(string? requested) => string.IsNullOrEmpty(requested) ? Options.DefaultNamespace : requested;

    /// <summary>The binding manager of a namespace (made on first use, then kept).</summary>
    /// <exception cref="Diagnostics.NwFilterException">The name is not a valid namespace name (InvalidNetworkNamespace).</exception>
    public BindingManager Manager(string? networkNamespace)
    {
        var ns = Namespace(networkNamespace);
        return _managers.GetOrAdd(ns ?? "", _ => new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = ns,
            Runner = Options.Runner ?? ProcessRunner.Default,
            Filters = Filters,
            Store = BindingStore.Open(Location, ns),
            Learners = Learners(ns),
            HoldNftablesContext = true,
            CountersByDefault = CountersByDefault,
        }));
    }

    private (DateTime Stamp, string? Variable, bool Counters)? _countersSetting;

    /// <summary>
    /// The <c>counters</c> setting (<see cref="BackendSelection.ReadCountersSetting"/>), read again when the configuration
    /// file or the variable changed: a binding applied after the setting changed gets it.
    /// </summary>
    /// <exception cref="Diagnostics.NwFilterException">BackendSettingInvalid: the setting is not on or off.</exception>
    public bool CountersByDefault()
    {
        var environment = Options.Environment ?? Environment.GetEnvironmentVariable;
        var variable = environment(BackendSelection.CountersVariable);
        var file = Location.ConfigDirectory is { } dir ? Path.Combine(dir, BackendSelection.ConfigFileName) : null;
        var stamp = file is not null && File.Exists(file) ? File.GetLastWriteTimeUtc(file) : DateTime.MinValue;
        if (_countersSetting is { } cached && cached.Stamp == stamp && cached.Variable == variable)
        {
            return cached.Counters;
        }
        var (counters, _) = BackendSelection.ReadCountersSetting(Location.ConfigDirectory, environment);
        _countersSetting = (stamp, variable, counters);
        return counters;
    }

    /// <summary>The learners of a namespace's bindings (one registry per lease folder, made on first use).</summary>
    public IpLearnerRegistry Learners(string? networkNamespace)
    {
        var leases = LeaseStore.Open(Location, Namespace(networkNamespace));
        return _registries.GetOrAdd(leases.Directory, _ => new IpLearnerRegistry(leases, Options.FrameSource, Options.Clock));
    }

    /// <summary>The namespaces that have a binding folder under the state directory (null first: the host's own).</summary>
    public IEnumerable<string?> NamespacesWithBindings()
    {
        if (Directory.Exists(Path.Combine(Location.StateDirectory, BindingStore.DirectoryName)))
        {
            yield return null;
        }
        var named = Path.Combine(Location.StateDirectory, BindingStore.NamespacesDirectoryName);
        if (Directory.Exists(named))
        {
            foreach (var dir in Directory.EnumerateDirectories(named).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(dir);
                if (NetworkNamespace.IsValidName(name))
                {
                    yield return name;
                }
            }
        }
    }

    /// <summary>True when the named network namespace exists (<c>/run/netns/NAME</c>); the host's own (null) always does.</summary>
    public static bool NamespaceExists(string? networkNamespace) =>
        networkNamespace is null || (NetworkNamespace.IsValidName(networkNamespace) && File.Exists(Path.Combine(NamedNamespaceDirectory, networkNamespace)));

    /// <summary>Stops every learner of the runtime (their leases stay stored).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var registry in _registries.Values)
        {
            await registry.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var manager in _managers.Values)
        {
            manager.CloseHeldContext();
        }
    }

    /// <summary>The refusal of a request naming a namespace that does not exist (checked before anything else); null when it exists.</summary>
    private NwFilterException? MissingNamespace(string? ns) =>
        ns is not null && NetworkNamespace.IsValidName(ns) && !(Options.NamespaceProbe ?? NamespaceExists)(ns) ? RuntimeChecks.NamespaceNotFound(ns) : null;

    /// <summary>The refusal of a change by a process that may not change the firewall; null when it may.</summary>
    private NwFilterException? MissingPrivilege() => (Options.PrivilegeProbe ?? RuntimeChecks.HasNetAdmin)() ? null : RuntimeChecks.NeedsRoot();

    private Task<IReadOnlySet<string>?> InterfacesAsync(string? ns, CancellationToken cancellationToken) =>
        Options.InterfaceProbe?.Invoke(ns, cancellationToken) ?? RuntimeChecks.ListInterfacesAsync(ns, Options.Runner ?? ProcessRunner.Default, cancellationToken);

    private static string Where(string? ns) => ns is null ? "" : " in network namespace " + ns;

    private static Action<BindingProgress> ProgressTo(IRuntimeHost host, string activity) =>
        p => host.Progress(new RuntimeProgress(activity, p.Status, p.Percent));
}
