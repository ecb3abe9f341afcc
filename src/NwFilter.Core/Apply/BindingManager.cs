using System.Collections.Immutable;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Apply;

/// <summary>
/// Bindings on a real firewall (libvirt's nwfilter-binding-create/-delete and daemon restart): compiles each binding's
/// filter tree, applies many together, each by its backend (an <see cref="IFirewallBackend"/>: EbIpTables bindings in one
/// build transaction per family and one swap transaction for all, nftables bindings in one nft transaction for all; see
/// BindingManager.Backends.cs for the order when a port changes backend), keeps them in a <see cref="BindingStore"/>,
/// removes, restores, re-instantiates them after a filter change (all or none), and compares the kernel with the store.
/// </summary>
/// <remarks>
/// Everything runs through <see cref="BindingManagerOptions.HostRunner"/>, so the manager can drive any network
/// namespace (tests use lab namespaces; the cmdlets take -NetworkNamespace or NWFILTER_NETNS). Operations on one
/// namespace are serialised by the binding store's lock, held from reading the firewall to writing the files.
/// </remarks>
public sealed partial class BindingManager
{
    private readonly BindingManagerOptions _options;
    private readonly IHeldFirewallContext? _held;
    // Ports whose binding file is written and whose learner this manager is about to start (between the store lock and
    // the learner's start): the learning service of this process must not take them over as another process's.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _startingLearners = new(StringComparer.Ordinal);

    /// <summary>True when the manager holds a libnftables context for its namespace (<see cref="BindingManagerOptions.HoldNftablesContext"/>).</summary>
    public bool HoldsNftablesContext => _held is not null;

    /// <summary>Which of the ports are interfaces of the namespace, asked through the held context (no process); null without one.</summary>
    internal Task<IReadOnlySet<string>?> ExistingInterfacesAsync(IReadOnlyCollection<string> portDevices) =>
        _held?.ExistingInterfacesAsync(portDevices) ?? Task.FromResult<IReadOnlySet<string>?>(null);

    /// <summary>Closes the held libnftables context, if any (the runtime does it when it is disposed).</summary>
    internal void CloseHeldContext() => _held?.Dispose();

    /// <summary>Creates a manager for one network namespace; missing options take the host defaults (the live process runner, the default stores).</summary>
    public BindingManager(BindingManagerOptions? options = null)
    {
        _options = options ?? new BindingManagerOptions();
        NetworkNamespace = _options.NetworkNamespace;
        if (NetworkNamespace is not null && !Host.NetworkNamespace.IsValidName(NetworkNamespace))
        {
            throw new NwFilterException(Diagnostic.Error(ApplyCodes.InvalidNetworkNamespace,
                $"'{NetworkNamespace}' is not a valid network namespace name.", DiagnosticCategory.InvalidArgument) with { Value = NetworkNamespace });
        }
        var runner = _options.HostRunner ?? (NetworkNamespace is null ? _options.Runner : new NamespacedProcessRunner(_options.Runner, NetworkNamespace));
        if (_options.HoldNftablesContext && _options.HostRunner is null && ReferenceEquals(_options.Runner, ProcessRunner.Default) && !FaultInjection.Active
            && FirewallBackends.Hold(runner, NetworkNamespace) is { } held)
        {
            runner = _held = held;
        }
        HostRunner = FaultInjection.Wrap(runner);
        Filters = _options.Filters ?? FilterStore.Open();
        Store = _options.Store ?? BindingStore.Open(StoreLocation.Resolve(), NetworkNamespace);
    }

    /// <summary>The namespace whose firewall is driven; null for the host's own.</summary>
    public string? NetworkNamespace { get; }

    /// <summary>Runs programs in the host's own namespace (namespace discovery, tool probes), whatever namespace the bindings are in.</summary>
    public IProcessRunner HostRunner { get; }

    /// <summary>The filters bindings are instantiated from.</summary>
    public IFilterSource Filters { get; }

    /// <summary>Where the bindings of this namespace are persisted.</summary>
    public BindingStore Store { get; }

    /// <summary>
    /// Compiles a binding: its filter tree resolved with its parameters and MAC, planned by the backend. Throws
    /// <see cref="NwFilterException"/> for unknown filters and unbound variables. A binding that waits for its IP gets
    /// the addresses already learned, or a ruleset that <see cref="Ruleset.NeedsIpLearning"/> (its port then carries the
    /// learning rules); without <see cref="Learners"/> it is refused (<see cref="ApplyCodes.IpLearningUnavailable"/>).
    /// </summary>
    public Ruleset Compile(FilterBinding binding, IFilterSource? filters = null) => Prepare(binding, filters, full: true).Ruleset;

    /// <summary>
    /// Checks that a binding compiles (what <see cref="ApplyAsync"/> would refuse), without the command plan
    /// <see cref="Compile"/> shows. With <paramref name="trees"/> (<see cref="TreeTexts"/>, taken before the check) the
    /// compile is kept for this very binding object, and <see cref="ApplyAsync"/> uses it instead of compiling again
    /// when the binding's filter tree is still that text (the compile is a function of the tree and the binding); a
    /// binding that learns its address is always compiled again (its rules depend on the learner's state).
    /// </summary>
    internal void CheckCompiles(FilterBinding binding, IReadOnlyDictionary<string, string>? trees = null)
    {
        var prepared = Prepare(binding);
        if (trees is not null && prepared.Learning is null && trees.TryGetValue(binding.Filter, out var tree))
        {
            _checked.AddOrUpdate(binding, new CheckedBinding(tree, prepared));
        }
    }

    /// <summary><see cref="TreeText"/> of each distinct filter of <paramref name="bindings"/>.</summary>
    internal Dictionary<string, string> TreeTexts(IEnumerable<FilterBinding> bindings)
    {
        var trees = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in bindings.Select(b => b.Filter).Distinct(StringComparer.Ordinal))
        {
            trees[name] = TreeText(Filters, name);
        }
        return trees;
    }

    /// <summary>A compile kept by <see cref="CheckCompiles"/>: valid while the binding's filter tree is <paramref name="Tree"/>.</summary>
    private sealed record CheckedBinding(string Tree, PreparedBinding Prepared);

    /// <summary>Compiles kept by <see cref="CheckCompiles"/>, by binding object (reference identity: a record equal to it is not it).</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<FilterBinding, CheckedBinding> _checked = [];

    /// <summary>
    /// Reads the firewall for planning (ebtables/iptables, and NwFilter's nftables chains); what cannot be read (not root,
    /// tools missing) is assumed empty.
    /// </summary>
    public Task<FirewallSnapshot> ReadFirewallAsync(CancellationToken cancellationToken = default) => ReadSnapshotAsync(cancellationToken);

    /// <summary>The exact transactions applying <paramref name="bindings"/> would run on the firewall of <paramref name="snapshot"/>.</summary>
    public ExecutionPlan PlanApply(FirewallSnapshot snapshot, IReadOnlyList<FilterBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(bindings);
        var prepared = bindings.Select(b => Prepare(b)).ToList();
        return Plan(snapshot, Steps(prepared));
    }

    /// <summary>The exact transaction removing the bindings of <paramref name="portDevices"/> would run.</summary>
    public ExecutionPlan PlanRemove(FirewallSnapshot snapshot, IReadOnlyCollection<string> portDevices)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(portDevices);
        var stored = Store.List().Bindings.ToDictionary(b => b.PortDevice, b => b.Backend, StringComparer.Ordinal);
        var transactions = ImmutableArray.CreateBuilder<PlannedTransaction>();
        var reasons = new List<string>();
        foreach (var backend in FirewallBackends.All)
        {
            // A port without a binding is looked for in the default backend's tables.
            var ports = portDevices.Where(p => stored.GetValueOrDefault(p, FirewallBackends.Default.Kind) == backend.Kind).ToList();
            if (ports.Count == 0)
            {
                continue;
            }
            var noneRemain = !stored.Any(kv => kv.Value == backend.Kind && !portDevices.Contains(kv.Key));
            transactions.AddRange(backend.PlanRemove(snapshot.StateOf(backend), ports, noneRemain));
            if (snapshot.ReasonOf(backend) is { } r)
            {
                reasons.Add(r);
            }
        }
        return Planned(transactions.ToImmutable(), reasons);
    }

    /// <summary>
    /// Creates or replaces bindings and applies their rules together: every binding that compiles is built in one
    /// transaction per family and swapped in one transaction for all. A binding that does not compile gets its own
    /// error and the others go ahead; a firewall failure fails them all and leaves the previous rules in force.
    /// </summary>
    public async Task<BindingBatchResult> ApplyAsync(IReadOnlyList<FilterBinding> bindings, Action<BindingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var results = new BindingResult?[bindings.Count];
        var compiled = new List<(int Index, FilterBinding Binding, PreparedBinding Prepared)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // What each filter tree was when compiled; checked again under the lock (below).
        var trees = TreeTexts(bindings);
        Diagnostics.PhaseTimings.Mark("manager: filter tree texts");
        for (var i = 0; i < bindings.Count; i++)
        {
            var binding = bindings[i];
            progress?.Invoke(new BindingProgress($"Compiling {binding.PortDevice} ({i + 1} of {bindings.Count})", bindings.Count == 0 ? 0 : 40 * i / bindings.Count));
            if (!seen.Add(binding.PortDevice))
            {
                results[i] = new BindingResult(binding.PortDevice, binding, new NwFilterException(Diagnostic.Error(ApplyCodes.DuplicatePortDevice,
                    $"The port device {binding.PortDevice} is given more than once; only its first binding is applied.", DiagnosticCategory.InvalidArgument)));
                continue;
            }
            try
            {
                // Compiled once: the runtime's check kept its compile, still valid when the tree is unchanged since.
                var prepared = _checked.TryGetValue(binding, out var check) && check.Tree == trees[binding.Filter] ? check.Prepared : Prepare(binding);
                _checked.Remove(binding);
                compiled.Add((i, binding, prepared));
            }
            catch (NwFilterException e)
            {
                results[i] = new BindingResult(binding.PortDevice, binding, e);
            }
        }

        Diagnostics.PhaseTimings.Mark("manager: compile (or the checks' compile kept)");
        var execution = ExecutionReport.None;
        var warnings = ImmutableArray<Diagnostic>.Empty;
        if (compiled.Count > 0)
        {
            try
            {
                await StopReplacedLearnersAsync(compiled.Select(c => c.Prepared)).ConfigureAwait(false);
                Diagnostics.PhaseTimings.Mark("manager: stop replaced learners");
                using (Store.Lock(_options.LockTimeout, cancellationToken))
                {
                    Diagnostics.PhaseTimings.Mark("manager: store lock");
                    // Another process may have redefined a filter of these trees since they were compiled and
                    // re-applied its bindings before these were stored: what changed is compiled again here, under
                    // the lock, so the rules applied are those of the latest definition (docs/design/applying.md,
                    // "Several processes at once").
                    compiled = Recompiled(compiled, trees, results);
                    Diagnostics.PhaseTimings.Mark("manager: trees compared under the lock");
                    // The store leads the kernel (docs/design/applying.md, "The store and the kernel"): the files are
                    // written, all or none, before the firewall changes, and put back for what the firewall refused.
                    var before = StoredBefore(compiled.Select(c => c.Binding));
                    // Read before the files are written: each port's backend before this batch.
                    var storedBackends = StoredBackends(before, compiled.Select(c => c.Binding));
                    Diagnostics.PhaseTimings.Mark("store: list");
                    // Unchanged files are not rewritten: a restore on a full disk still re-applies the kernel.
                    var bindingsOut = compiled.Select(c => c.Binding)
                        .Where(b => !before.TryGetValue(b.PortDevice, out var old) || NwFilterXmlWriter.Write(old) != NwFilterXmlWriter.Write(b)).ToList();
                    foreach (var c in compiled.Where(c => c.Prepared.Learning is { Start: true }))
                    {
                        _startingLearners[c.Binding.PortDevice] = 0;
                    }
                    Diagnostics.PhaseTimings.Mark("store: unchanged files skipped");
                    Store.SaveAll(bindingsOut);
                    FaultInjection.Hit(FaultInjection.StoreWritten);
                    BatchExecution batch;
                    try
                    {
                        batch = await ExecuteAsync([.. compiled.Select(c => c.Prepared)], progress, cancellationToken,
                            storedBackends).ConfigureAwait(false);
                    }
                    catch (NwFilterException e)
                    {
                        throw RevertStore(bindingsOut, before, e);
                    }
                    execution = batch.Report;
                    Diagnostics.PhaseTimings.Mark("manager: after the firewall");
                    var refused = bindingsOut.Where(b => batch.Failures.ContainsKey(b.Backend)).ToList();
                    var revertProblem = refused.Count == 0 ? null : TryRevertStore(refused, before);
                    foreach (var c in compiled)
                    {
                        if (batch.Failures.TryGetValue(c.Binding.Backend, out var failed))
                        {
                            results[c.Index] = new BindingResult(c.Binding.PortDevice, c.Binding,
                                ForPort(revertProblem is null ? failed : new NwFilterException([.. failed.Diagnostics, revertProblem], failed), c.Binding.PortDevice));
                            continue;
                        }
                        results[c.Index] = new BindingResult(c.Binding.PortDevice, c.Binding, null);
                    }
                }
                try
                {
                    foreach (var c in compiled.Where(c => results[c.Index]!.Succeeded))
                    {
                        results[c.Index] = await StartLearningAsync(c.Prepared, results[c.Index]!, cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    foreach (var c in compiled)
                    {
                        _startingLearners.TryRemove(c.Binding.PortDevice, out _);
                    }
                }
                Diagnostics.PhaseTimings.Mark("manager: results and learners");
                warnings = execution.Warnings.AddRange(await BridgeWarningsAsync(
                    compiled.Where(c => results[c.Index]!.Succeeded).Select(c => (c.Binding.PortDevice, c.Prepared.Ruleset)), cancellationToken).ConfigureAwait(false));
            }
            catch (NwFilterException e)
            {
                foreach (var c in compiled)
                {
                    results[c.Index] ??= new BindingResult(c.Binding.PortDevice, c.Binding, ForPort(e, c.Binding.PortDevice));
                }
            }
        }
        progress?.Invoke(new BindingProgress("Done", 100));
        return new BindingBatchResult([.. results.Select(r => r!)], warnings, execution);
    }

    /// <summary>Whether this manager has written the port's binding and is starting its learner right now.</summary>
    internal bool IsStartingLearner(string portDevice) => _startingLearners.ContainsKey(portDevice);

    /// <summary>
    /// Removes bindings: their rules go in one transaction over every family, then their files. When no binding is
    /// left, the global base chains go too. A port without a binding gets <see cref="ApplyCodes.BindingNotFound"/>.
    /// </summary>
    public async Task<BindingBatchResult> RemoveAsync(IReadOnlyList<string> portDevices, Action<BindingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(portDevices);
        var results = new BindingResult?[portDevices.Count];
        var execution = ExecutionReport.None;
        if (Learners is not null)
        {
            // Before the lock: a learner's sink may be waiting for it.
            foreach (var port in portDevices.Distinct(StringComparer.Ordinal))
            {
                await Learners.StopAsync(port).ConfigureAwait(false);
            }
        }
        using (Store.Lock(_options.LockTimeout, cancellationToken))
        {
            var stored = Store.List().Bindings.ToDictionary(b => b.PortDevice, StringComparer.Ordinal);
            var found = new List<(int Index, FilterBinding Binding)>();
            for (var i = 0; i < portDevices.Count; i++)
            {
                if (stored.TryGetValue(portDevices[i], out var binding) && found.All(f => f.Binding.PortDevice != portDevices[i]))
                {
                    found.Add((i, binding));
                }
                else
                {
                    results[i] = new BindingResult(portDevices[i], null, NotFound(portDevices[i]));
                }
            }
            if (found.Count > 0)
            {
                // Each backend removes its own bindings' rules (each in its own transaction); one failing leaves the other's done.
                foreach (var backend in FirewallBackends.All)
                {
                    var group = found.Where(f => f.Binding.Backend == backend.Kind).ToList();
                    if (group.Count == 0)
                    {
                        continue;
                    }
                    var ports = group.Select(f => f.Binding.PortDevice).ToHashSet(StringComparer.Ordinal);
                    var deleted = new List<FilterBinding>();
                    try
                    {
                        // The store leads the kernel here too (docs/design/applying.md): the files go first, and come
                        // back if the firewall refuses; a file that cannot be deleted leaves the rules untouched.
                        foreach (var (_, binding) in group)
                        {
                            Store.Delete(binding.PortDevice);
                            deleted.Add(binding);
                        }
                        var noneRemain = stored.Values.Where(b => b.Backend == backend.Kind).All(b => ports.Contains(b.PortDevice));
                        execution = ExecutionReport.Merge(execution, await backend.RemoveAsync(HostRunner, ports, noneRemain, progress, cancellationToken).ConfigureAwait(false));
                        foreach (var (index, binding) in group)
                        {
                            Learners?.Store?.Delete(binding.PortDevice);
                            results[index] = new BindingResult(binding.PortDevice, binding, null);
                        }
                    }
                    catch (NwFilterException e)
                    {
                        var problem = deleted.Count == 0 ? null : TryRevertStore(deleted, deleted.ToDictionary(b => b.PortDevice, StringComparer.Ordinal));
                        foreach (var (index, binding) in group)
                        {
                            results[index] = new BindingResult(binding.PortDevice, binding, problem is null ? e : new NwFilterException([.. e.Diagnostics, problem], e));
                        }
                    }
                }
            }
        }
        return new BindingBatchResult([.. results.Select(r => r!)], [], execution);
    }

    /// <summary>
    /// Re-applies stored bindings (after a firewall flush, a firewalld reload, a reboot): all of them, or those of
    /// <paramref name="portDevices"/>. Restoring all also removes NwFilter chains of ports that have no binding.
    /// </summary>
    /// <param name="portDevices">The ports; null: every binding.</param>
    /// <param name="progress">Progress of the batch.</param>
    /// <param name="cancellationToken">Cancels before the firewall changes.</param>
    /// <param name="backend">
    /// Moves the bindings restored to this backend (each port in one kernel transaction, its old rules out and its new
    /// ones in, as any backend change: BindingManager.Backends.cs); a binding the backend cannot take (a filter nft cannot express, such as an ipset match)
    /// is restored on its own backend, with a warning saying why. Null keeps each binding's backend.
    /// </param>
    public async Task<BindingBatchResult> RestoreAsync(IReadOnlyCollection<string>? portDevices = null, Action<BindingProgress>? progress = null, CancellationToken cancellationToken = default,
        FirewallBackendKind? backend = null)
    {
        var (stored, problems) = Store.List();
        var selected = portDevices is null ? stored : [.. stored.Where(b => portDevices.Contains(b.PortDevice))];
        var missing = portDevices?.Where(p => stored.All(b => b.PortDevice != p)).Select(p => new BindingResult(p, null, NotFound(p))) ?? [];
        var moveWarnings = ImmutableArray<Diagnostic>.Empty;
        if (backend is { } target)
        {
            var moved = new List<FilterBinding>(selected.Length);
            foreach (var binding in selected)
            {
                if (binding.Backend == target)
                {
                    moved.Add(binding);
                    continue;
                }
                var candidate = binding with { Backend = target };
                try
                {
                    Prepare(candidate);
                    moved.Add(candidate);
                }
                catch (NwFilterException e)
                {
                    moved.Add(binding);
                    moveWarnings = moveWarnings.Add(Diagnostic.Warning(ApplyCodes.BackendMoveRefused,
                        $"The binding of {binding.PortDevice} stays on {binding.Backend} (restored there): {FirewallBackends.Get(target).Title} cannot take it: {e.Primary.Message}")
                        with { Value = binding.PortDevice });
                }
            }
            var byPort = moved.ToDictionary(b => b.PortDevice, StringComparer.Ordinal);
            selected = [.. moved];
            stored = [.. stored.Select(b => byPort.GetValueOrDefault(b.PortDevice, b))];
        }
        var result = await ApplyAsync(selected, progress, cancellationToken).ConfigureAwait(false);
        if (backend is not null)
        {
            // What the orphan sweep below compares with: each port's backend after the batch (the store is put back
            // for a move the firewall refused).
            stored = Store.List().Bindings;
        }
        var warnings = moveWarnings.AddRange(result.Warnings).AddRange(problems.Select(p => p with { Severity = DiagnosticSeverity.Warning }));
        var execution = result.Execution;
        if (portDevices is null)
        {
            using (Store.Lock(_options.LockTimeout, cancellationToken))
            {
                // Orphans per backend: chains of ports without a binding of that backend (none, or one that moved to another).
                var (removed, orphanWarnings) = await RemoveOrphansAsync(stored, cancellationToken).ConfigureAwait(false);
                execution = ExecutionReport.Merge(execution, removed);
                warnings = warnings.AddRange(orphanWarnings);
            }
        }
        return new BindingBatchResult([.. result.Items, .. missing], warnings, execution);
    }

    /// <summary>
    /// After filters changed (<paramref name="changedFilters"/>, now as in <paramref name="filters"/>), re-applies every
    /// binding whose filter tree includes one of them, directly or through references, in one go: all bindings are
    /// compiled first and built together; if any fails, nothing changes and the exception lists every failure.
    /// </summary>
    public async Task<BindingBatchResult> ReinstantiateAsync(IFilterSource filters, IReadOnlyCollection<string> changedFilters, Action<BindingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filters);
        ArgumentNullException.ThrowIfNull(changedFilters);
        ExecutionReport execution;
        var compiled = new List<(FilterBinding Binding, PreparedBinding Prepared)>();
        // The bindings are listed and compiled under the lock: a binding another process stores meanwhile is then
        // either seen here or compiled by that process after this change (its own check under the lock), a binding
        // removed meanwhile is not re-applied, and a later redefinition's re-application cannot be overtaken by
        // this one's older rules (docs/design/applying.md, "Several processes at once").
        using (Store.Lock(_options.LockTimeout, cancellationToken))
        {
            var affected = Store.List().Bindings.Where(b => Uses(filters, b.Filter, changedFilters) || Uses(Filters, b.Filter, changedFilters)).ToList();
            if (affected.Count == 0)
            {
                return new BindingBatchResult([], [], ExecutionReport.None);
            }
            var errors = new List<Diagnostic>();
            for (var i = 0; i < affected.Count; i++)
            {
                var binding = affected[i];
                progress?.Invoke(new BindingProgress($"Compiling {binding.PortDevice} ({i + 1} of {affected.Count})", 40 * i / affected.Count));
                try
                {
                    compiled.Add((binding, Prepare(binding, filters)));
                }
                catch (NwFilterException e)
                {
                    errors.AddRange(e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d with { Message = $"binding {binding.PortDevice}: {d.Message}" }));
                }
            }
            if (errors.Count > 0)
            {
                errors.Insert(0, Diagnostic.Error(ApplyCodes.ReinstantiationFailed,
                    $"The change cannot be applied to the bindings that use it ({string.Join(", ", affected.Select(a => a.PortDevice))}); nothing was changed.",
                    DiagnosticCategory.InvalidOperation));
                throw new NwFilterException(errors);
            }
            var batch = await ExecuteAsync([.. compiled.Select(c => c.Prepared)], progress, cancellationToken).ConfigureAwait(false);
            if (batch.Failures.Count > 0)
            {
                // The earlier backends' steps committed before a later one failed: say exactly what holds.
                var (kind, failed) = batch.Failures.First();
                var backend = FirewallBackends.Get(kind);
                var held = compiled.Where(c => !batch.Failures.ContainsKey(c.Binding.Backend)).ToList();
                var heldTitles = string.Join(" and ", held.Select(c => c.Prepared.Backend).Distinct().OrderBy(FirewallBackends.Order).Select(b => b.Title));
                var kept = compiled.Where(c => c.Binding.Backend == kind).Select(c => c.Binding.PortDevice);
                throw new NwFilterException([Diagnostic.Error(ApplyCodes.ReinstantiationFailed,
                    $"The change is in force for the {heldTitles} bindings ({string.Join(", ", held.Select(c => c.Binding.PortDevice))}), but the {backend.Title} " +
                    $"transaction failed: the {backend.Title} bindings ({string.Join(", ", kept)}) keep their previous rules.", DiagnosticCategory.InvalidOperation), .. failed.Diagnostics]);
            }
            execution = batch.Report;
        }
        var warnings = execution.Warnings.AddRange(await BridgeWarningsAsync(compiled.Select(c => (c.Binding.PortDevice, c.Prepared.Ruleset)), cancellationToken).ConfigureAwait(false));
        return new BindingBatchResult([.. compiled.Select(c => new BindingResult(c.Binding.PortDevice, c.Binding, null))], warnings, execution);
    }

    /// <summary>
    /// The stored bindings of the batch's own ports (one cached read each, not a listing of the whole store: with a
    /// thousand bindings a listing costs a stat per file on every change). An unreadable file counts as no binding, as
    /// in <see cref="BindingStore.List"/>.
    /// </summary>
    private Dictionary<string, FilterBinding> StoredBefore(IEnumerable<FilterBinding> batch)
    {
        var before = new Dictionary<string, FilterBinding>(StringComparer.Ordinal);
        foreach (var port in batch.Select(b => b.PortDevice).Distinct(StringComparer.Ordinal))
        {
            try
            {
                if (Store.Get(port) is { } stored)
                {
                    before[port] = stored;
                }
            }
            catch (NwFilterException)
            {
                // Unreadable: replaced like a missing one (List reports it).
            }
        }
        return before;
    }

    /// <summary>
    /// The backend of each stored binding that <see cref="Steps"/> needs: the batch's own ports, unless one of them
    /// changes backend; then every stored binding (whether the old backend keeps any binding decides its removal step).
    /// </summary>
    private Dictionary<string, FirewallBackendKind> StoredBackends(Dictionary<string, FilterBinding> before, IEnumerable<FilterBinding> batch) =>
        batch.Any(b => before.TryGetValue(b.PortDevice, out var old) && old.Backend != b.Backend)
            ? Store.List().Bindings.ToDictionary(b => b.PortDevice, b => b.Backend, StringComparer.Ordinal)
            : before.ToDictionary(kv => kv.Key, kv => kv.Value.Backend, StringComparer.Ordinal);

    /// <summary>
    /// Compiles again, under the store's lock, the bindings whose filter tree is no longer what it was when they were
    /// compiled (<paramref name="trees"/>: <see cref="TreeText"/> per top filter); one that no longer compiles gets its
    /// error in <paramref name="results"/> and drops out of the batch.
    /// </summary>
    private List<(int Index, FilterBinding Binding, PreparedBinding Prepared)> Recompiled(
        List<(int Index, FilterBinding Binding, PreparedBinding Prepared)> compiled, Dictionary<string, string> trees, BindingResult?[] results)
    {
        var changed = new Dictionary<string, bool>(StringComparer.Ordinal);
        var kept = new List<(int Index, FilterBinding Binding, PreparedBinding Prepared)>(compiled.Count);
        foreach (var c in compiled)
        {
            var filter = c.Binding.Filter;
            if (!changed.TryGetValue(filter, out var differs))
            {
                changed[filter] = differs = TreeText(Filters, filter) != trees[filter];
            }
            if (!differs)
            {
                kept.Add(c);
                continue;
            }
            try
            {
                kept.Add((c.Index, c.Binding, Prepare(c.Binding)));
            }
            catch (NwFilterException e)
            {
                results[c.Index] = new BindingResult(c.Binding.PortDevice, c.Binding, e);
            }
        }
        return kept;
    }

    /// <summary>The definitions of the tree of <paramref name="top"/> in <paramref name="filters"/> as one text (a missing filter as its name): equal texts compile alike.</summary>
    internal static string TreeText(IFilterSource filters, string top)
    {
        var text = new System.Text.StringBuilder();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([top]);
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (!seen.Add(name))
            {
                continue;
            }
            FilterDefinition? definition;
            try
            {
                definition = filters.Find(name);
            }
            catch (NwFilterException e)
            {
                text.Append(name).Append("\0unreadable: ").Append(e.Primary.Code).Append('\0');
                continue;
            }
            if (definition is null)
            {
                text.Append(name).Append("\0missing\0");
                continue;
            }
            text.Append(NwFilterXmlWriter.Write(definition)).Append('\0');
            foreach (var reference in definition.References)
            {
                stack.Push(reference.Filter);
            }
        }
        return text.ToString();
    }

    /// <summary>True when the tree of <paramref name="top"/> in <paramref name="filters"/> includes a filter of <paramref name="names"/>.</summary>
    public static bool Uses(IFilterSource filters, string top, IReadOnlyCollection<string> names)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([top]);
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (!seen.Add(name))
            {
                continue;
            }
            if (names.Contains(name))
            {
                return true;
            }
            foreach (var reference in filters.Find(name)?.References ?? [])
            {
                stack.Push(reference.Filter);
            }
        }
        return false;
    }

    private async Task<ImmutableArray<Diagnostic>> BridgeWarningsAsync(IEnumerable<(string Port, Ruleset Ruleset)> rulesets, CancellationToken cancellationToken)
    {
        var list = rulesets.ToList();
        var v4 = list.Where(r => r.Ruleset.Instances.Any(i => i.Layer == ProtocolLayer.IPv4)).Select(r => r.Port).ToList();
        var v6 = list.Where(r => r.Ruleset.Instances.Any(i => i.Layer == ProtocolLayer.IPv6)).Select(r => r.Port).ToList();
        if (v4.Count == 0 && v6.Count == 0)
        {
            return [];
        }
        var status = await BridgeNetfilterStatus.ProbeAsync(HostRunner, cancellationToken).ConfigureAwait(false);
        return [.. new[] { status.Warn(false, v4, NetworkNamespace), status.Warn(true, v6, NetworkNamespace) }.OfType<Diagnostic>()];
    }

    /// <summary>The firewall refused the whole batch (nothing changed there): the store goes back too; <paramref name="e"/>, plus why it could not.</summary>
    private NwFilterException RevertStore(IReadOnlyList<FilterBinding> written, IReadOnlyDictionary<string, FilterBinding> before, NwFilterException e) =>
        TryRevertStore(written, before) is { } problem ? new NwFilterException([.. e.Diagnostics, problem], e) : e;

    /// <summary>
    /// Puts the files of <paramref name="written"/> back as they were in <paramref name="before"/> (new ones deleted
    /// first, which frees space on a full disk, then the old ones rewritten); null when done, else the
    /// <see cref="ApplyCodes.BindingStoreRevertFailed"/> diagnostic.
    /// </summary>
    private Diagnostic? TryRevertStore(IReadOnlyList<FilterBinding> written, IReadOnlyDictionary<string, FilterBinding> before)
    {
        try
        {
            foreach (var binding in written.Where(b => !before.ContainsKey(b.PortDevice)))
            {
                Store.Delete(binding.PortDevice);
            }
            Store.SaveAll([.. written.Where(b => before.ContainsKey(b.PortDevice)).Select(b => before[b.PortDevice])]);
            return null;
        }
        catch (NwFilterException e)
        {
            return Diagnostic.Error(ApplyCodes.BindingStoreRevertFailed,
                $"The binding files of {string.Join(", ", written.Select(b => b.PortDevice))} could not be put back after the firewall refused the change " +
                $"({e.Primary.Message.TrimEnd('.')}): the store names rules that are not in force; Restore-NwFilterBinding applies them.",
                DiagnosticCategory.ResourceUnavailable) with { Source = e.Primary.Source };
        }
    }

    /// <summary>
    /// A refused nft transaction (one for the whole batch) as the error of one of its ports: its message starts with
    /// the port, then nft's (which names the failing statement and says nothing was changed).
    /// </summary>
    private static NwFilterException ForPort(NwFilterException e, string port) =>
        e.Primary.Code == Backends.Nftables.NftablesCodes.NftFailed && !e.Primary.Message.StartsWith("Port ", StringComparison.Ordinal)
            ? new NwFilterException([e.Primary with { Message = $"Port {port}: {e.Primary.Message}", Value = e.Primary.Value ?? port }, .. e.Diagnostics.Skip(1)], e)
            : e;

    private NwFilterException NotFound(string port) =>
        new(Diagnostic.Error(ApplyCodes.BindingNotFound,
            $"No binding for port device '{port}'" + (NetworkNamespace is null ? "." : $" in network namespace {NetworkNamespace}."),
            DiagnosticCategory.ObjectNotFound) with { Value = port });
}
