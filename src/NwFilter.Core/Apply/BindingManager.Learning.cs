using System.Collections.Immutable;
using System.Net.Sockets;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Apply;

/// <summary>
/// IP address learning for bindings whose filter needs <c>IP</c> and whose parameters give none (docs/design/learning.md):
/// the port gets its backend's learning rules (<see cref="IFirewallBackend.LearningRules"/>) through the same executor, a learner of
/// <see cref="BindingManagerOptions.Learners"/> watches it, and every change of the learned addresses re-instantiates
/// the binding with <c>IP</c> set to them (back to the learning rules when none is left).
/// </summary>
/// <remarks>
/// Locking: a learner's sink takes the binding store's lock to re-instantiate, and stopping a learner waits for its
/// sink. So learners are stopped before the lock is taken and started after it is released, never while it is held.
/// </remarks>
public sealed partial class BindingManager
{
    /// <summary>The learners of this namespace (null: learning is off and a missing IP is refused).</summary>
    public IpLearnerRegistry? Learners => _options.Learners;

    /// <summary>
    /// Where the learning of <paramref name="binding"/> stands: null when the binding does not learn (its filter needs no
    /// <c>IP</c>, or the parameters give it, or it does not compile).
    /// </summary>
    public BindingLearningStatus? GetLearningStatus(FilterBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        Resolution.Resolution resolution;
        try
        {
            resolution = FilterResolver.Resolve(Filters, binding.Filter, binding.Parameters, binding.MacAddress);
        }
        catch (NwFilterException)
        {
            return null;
        }
        if (resolution.Status != ResolutionStatus.NeedsIpLearning)
        {
            return null;
        }
        if (Learners?.Get(binding.PortDevice) is { } learner && learner.Options.MacAddress.Equals(binding.MacAddress))
        {
            return new BindingLearningStatus(binding.PortDevice, learner.Mode, learner.State, learner.Addresses) { Listening = !learner.Completion.IsCompleted };
        }
        var stored = StoredAddresses(binding.PortDevice, binding.MacAddress, resolution.IpLearning, resolution.LearnIPv4, resolution.LearnIPv6);
        var learned = resolution.IpLearning == IpLearningMode.Any &&
            (!resolution.LearnIPv4 || HasIPv4(stored)) && (!resolution.LearnIPv6 || stored.Any(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6));
        var state = learned ? IpLearningState.Learned : IpLearningState.NotStarted;
        return new BindingLearningStatus(binding.PortDevice, resolution.IpLearning, state, stored);
    }

    /// <summary>
    /// What applying one binding means: its backend, its ruleset, the backend's plan to apply (its compiled rules or its
    /// learning rules), and its learning when it learns.
    /// </summary>
    internal sealed record PreparedBinding(FilterBinding Binding, IFirewallBackend Backend, Ruleset Ruleset, PortPlan Plan, LearningStep? Learning);

    /// <summary>
    /// The learning side of a prepared binding: the learner's options, the addresses the plan uses (empty: the learning
    /// rules), the running learner that stays (same options), and whether a new learner is to be started.
    /// </summary>
    internal sealed record LearningStep(IpLearnerOptions Options, ImmutableArray<LearnedAddress> Addresses, IpLearner? Keep, bool Start);

    /// <summary>
    /// Compiles a binding for applying. A binding waiting for its IP gets the addresses already learned (from its running
    /// learner, else the lease store), or the learning rules when none is known.
    /// </summary>
    internal PreparedBinding Prepare(FilterBinding binding, IFilterSource? filters = null, bool full = false)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var source = filters ?? Filters;
        var backend = FirewallBackends.Get(binding.Backend);
        // A backend that compiles from the rule instances alone (nftables) gets no command plan and dry-run expansion
        // (what Compile shows): they would be a second and third compile per binding, thrown away.
        var ruleset = !full && backend.CompilesFromInstances
            ? RulesetBuilder.Resolve(source, binding.Filter, binding.MacAddress, binding.Parameters)
            : RulesetBuilder.Build(source, binding.Filter, binding.PortDevice, binding.MacAddress, binding.Parameters, binding.Backend);
        if (!ruleset.NeedsIpLearning)
        {
            return new PreparedBinding(binding, backend, ruleset, CompilePlan(binding, backend, ruleset), null);
        }
        // A backend without learning rules refuses here, before anything else is asked (libvirt's canApplyBasicRules).
        backend.EnsureCanLearn(binding);
        if (Learners is null)
        {
            throw new NwFilterException(Diagnostic.Error(ApplyCodes.IpLearningUnavailable,
                $"The filter '{binding.Filter}' of port {binding.PortDevice} needs the variable IP, which was not given, and IP address learning " +
                $"(CTRL_IP_LEARNING={ruleset.Resolution.IpLearning.ToString().ToLowerInvariant()}) is not enabled for this binding manager. Give the " +
                "VM's address, for example -Parameter @{ IP = '10.0.0.5' } (an array for several).", DiagnosticCategory.InvalidArgument)
                with { Filter = binding.Filter, Value = binding.PortDevice });
        }
        var options = IpLearnerOptions.ForBinding(binding, ruleset.Resolution, NetworkNamespace);
        var current = Learners.Get(binding.PortDevice);
        var keep = current is not null && !current.Completion.IsCompleted && SameLearning(current.Options, options) ? current : null;
        var addresses = keep is not null ? keep.Addresses : StoredAddresses(binding.PortDevice, binding.MacAddress, options);
        if (options.LearnIPv4 && !HasIPv4(addresses))
        {
            var rules = backend.LearningRules(binding, options.Mode, options.DhcpServers);
            return new PreparedBinding(binding, backend, ruleset, rules, new LearningStep(options, [], keep, keep is null));
        }
        // IP known (learned or given); IPV6, when learned, is at least the link-local address of the MAC.
        var learned = CompileWith(binding, addresses, source, options);
        var complete = !options.LearnIPv6 || addresses.Any(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6);
        return new PreparedBinding(binding, backend, learned, CompilePlan(binding, backend, learned),
            new LearningStep(options, addresses, keep, keep is null && (options.Mode == IpLearningMode.Dhcp || !complete)));
    }

    /// <summary>True when <paramref name="binding"/> counts per rule: its own setting, else the host's default.</summary>
    internal bool CountsRules(FilterBinding binding) => binding.Counters ?? _options.CountersByDefault?.Invoke() ?? false;

    /// <summary>The backend's plan of a compiled binding, with per-rule counters where the binding has them.</summary>
    private PortPlan CompilePlan(FilterBinding binding, IFirewallBackend backend, Ruleset ruleset)
    {
        var plan = backend.Compile(binding.PortDevice, ruleset);
        return CountsRules(binding) ? backend.WithCounters(plan) : plan;
    }

    /// <summary>Stops the running learners that the prepared bindings replace (called before the store lock is taken).</summary>
    private async Task StopReplacedLearnersAsync(IEnumerable<PreparedBinding> prepared)
    {
        if (Learners is null)
        {
            return;
        }
        foreach (var p in prepared)
        {
            if (p.Learning?.Keep is null && Learners.Get(p.Binding.PortDevice) is { } old && !old.Completion.IsCompleted)
            {
                await Learners.StopAsync(p.Binding.PortDevice).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Starts the learners of applied bindings (after the store lock is released); the result names each learner.</summary>
    private async Task<BindingResult> StartLearningAsync(PreparedBinding prepared, BindingResult applied, CancellationToken cancellationToken)
    {
        if (prepared.Learning is not { } step)
        {
            return applied;
        }
        if (step.Keep is { } kept)
        {
            return applied with { Learner = kept };
        }
        if (!step.Start)
        {
            return applied;
        }
        try
        {
            var learner = await Learners!.StartAsync(step.Options, new ReinstantiationSink(this, Key(step.Addresses)), cancellationToken).ConfigureAwait(false);
            return applied with { Learner = learner };
        }
        catch (NwFilterException e)
        {
            return applied with
            {
                Error = new NwFilterException(Diagnostic.Error(ApplyCodes.IpLearningFailed,
                    $"The binding of {prepared.Binding.PortDevice} is in place with its " +
                    (step.Addresses.IsEmpty ? "learning rules" : "learned addresses") + $", but learning could not start: {e.Primary.Message.TrimEnd('.')}. " +
                    "Restore-NwFilterBinding starts it again once the port device exists and is up.", DiagnosticCategory.ResourceUnavailable)
                    with { Value = prepared.Binding.PortDevice }, e),
            };
        }
    }

    /// <summary>The sink's work: re-instantiates the binding of a learner with its addresses now, under the store lock.</summary>
    private async Task ReinstantiateLearnedAsync(IpLearner learner, AddressChange change, CancellationToken cancellationToken)
    {
        var port = change.PortDevice;
        var clock = Learners?.Clock ?? TimeProvider.System;
        var filter = "";
        var ip = change.IPv4Values;
        try
        {
            ExecutionReport report;
            using (Store.Lock(_options.LockTimeout, cancellationToken))
            {
                var binding = Store.Get(port);
                if (binding is null || !binding.MacAddress.Equals(learner.Options.MacAddress))
                {
                    throw EndLearning(learner, clock, binding is null ? "the binding was removed" : "the binding now has another MAC address", cancellationToken);
                }
                var backend = FirewallBackends.Get(binding.Backend);
                try
                {
                    backend.EnsureCanLearn(binding);
                }
                catch (NwFilterException)
                {
                    throw EndLearning(learner, clock, $"the binding now uses the {backend.Title} backend", cancellationToken);
                }
                filter = binding.Filter;
                ip = RulesIPv4(binding, learner.Options, change);
                var ruleset = RulesetBuilder.Build(Filters, binding.Filter, port, binding.MacAddress, binding.Parameters, binding.Backend);
                if (!ruleset.NeedsIpLearning || ruleset.Resolution.IpLearning != learner.Mode)
                {
                    throw EndLearning(learner, clock, $"the binding no longer learns its address in {learner.Mode.ToString().ToLowerInvariant()} mode", cancellationToken);
                }
                var plan = !learner.Options.LearnIPv4 || HasIPv4(change.Addresses)
                    ? CompilePlan(binding, backend, CompileWith(binding, change.Addresses, Filters, learner.Options))
                    : backend.LearningRules(binding, learner.Mode, learner.Options.DhcpServers);
                report = await backend.ApplyAsync(HostRunner, [plan], [], false, null, null, cancellationToken).ConfigureAwait(false);
            }
            learner.Report(new ReinstantiationSucceeded(port, clock.GetUtcNow(), filter, ip, change.IPv6Values, report.ProcessLaunches, report.Elapsed));
        }
        catch (NwFilterException e)
        {
            learner.Report(new ReinstantiationFailed(port, clock.GetUtcNow(), filter, ip, e.Message, e));
            throw new AddressChangeRejectedException(e.Message, e);
        }
    }

    /// <summary>Ends a learner whose binding went away: says why, stops it, and returns the cancellation to throw.</summary>
    private static OperationCanceledException EndLearning(IpLearner learner, TimeProvider clock, string why, CancellationToken cancellationToken)
    {
        learner.Report(new LearningWarning(learner.PortDevice, clock.GetUtcNow(), $"{why}: learning ends", null));
        _ = learner.StopAsync();
        return new OperationCanceledException(why, cancellationToken);
    }

    /// <summary>
    /// The binding compiled with <c>IP</c> (when learned) set to the learned IPv4 addresses and <c>IPV6</c> (when learned)
    /// to the link-local address of the MAC followed by the learned IPv6 addresses.
    /// </summary>
    private Ruleset CompileWith(FilterBinding binding, ImmutableArray<LearnedAddress> addresses, IFilterSource filters, IpLearnerOptions options)
    {
        var parameters = binding.Parameters;
        if (options.LearnIPv4)
        {
            parameters = parameters.With(ReservedVariables.IP, Values(addresses, AddressFamily.InterNetwork));
        }
        if (options.LearnIPv6)
        {
            var linkLocal = IpLearnerOptions.LinkLocalOf(binding.MacAddress).ToString();
            parameters = parameters.With(ReservedVariables.IPv6, [linkLocal, .. Values(addresses, AddressFamily.InterNetworkV6).Where(v => v != linkLocal)]);
        }
        return RulesetBuilder.Build(filters, binding.Filter, binding.PortDevice, binding.MacAddress, parameters, binding.Backend);
    }

    private ImmutableArray<LearnedAddress> StoredAddresses(string port, System.Net.NetworkInformation.PhysicalAddress mac, IpLearnerOptions options) =>
        StoredAddresses(port, mac, options.Mode, options.LearnIPv4, options.LearnIPv6);

    private ImmutableArray<LearnedAddress> StoredAddresses(string port, System.Net.NetworkInformation.PhysicalAddress mac, IpLearningMode mode, bool learnIPv4, bool learnIPv6)
    {
        if (Learners?.Store is not { } store)
        {
            return [];
        }
        ImmutableArray<LearnedAddress> stored;
        try
        {
            stored = store.Load(port, mac, Learners.Clock.GetUtcNow());
        }
        catch (NwFilterException)
        {
            return []; // a damaged file: the learner says so when it starts
        }
        var usable = stored.Where(a => a.Address.AddressFamily == AddressFamily.InterNetwork ? learnIPv4 : learnIPv6);
        return mode == IpLearningMode.Dhcp ? [.. usable] : [.. usable.GroupBy(a => a.Address.AddressFamily).Select(g => g.First())];
    }

    private static List<string> Values(ImmutableArray<LearnedAddress> addresses, AddressFamily family) =>
        [.. addresses.Where(a => a.Address.AddressFamily == family).Select(a => a.Address.ToString())];

    /// <summary>
    /// The IPv4 addresses the rules of a learner's binding use after <paramref name="change"/>: the learned ones, or
    /// the binding's own <c>IP</c> when only IPv6 is learned (a binding that gives <c>IP</c> never falls back to the
    /// learning rules, so its events must not say it did).
    /// </summary>
    private static ImmutableArray<string> RulesIPv4(FilterBinding? binding, IpLearnerOptions options, AddressChange change) =>
        options.LearnIPv4 || binding is null || !binding.Parameters.TryGetValue(ReservedVariables.IP, out var given) ? change.IPv4Values : given;

    private static bool HasIPv4(ImmutableArray<LearnedAddress> addresses) =>
        addresses.Any(a => a.Address.AddressFamily == AddressFamily.InterNetwork);

    private static bool SameLearning(IpLearnerOptions a, IpLearnerOptions b) =>
        a.MacAddress.Equals(b.MacAddress) && a.Mode == b.Mode && a.LinkDevice == b.LinkDevice && a.NamespaceName == b.NamespaceName &&
        a.LearnIPv4 == b.LearnIPv4 && a.LearnIPv6 == b.LearnIPv6 && a.DhcpServers.SequenceEqual(b.DhcpServers) && a.Dhcpv6Servers.SequenceEqual(b.Dhcpv6Servers);

    private static string Key(ImmutableArray<LearnedAddress> addresses) =>
        string.Join(",", addresses.Select(a => a.Address.ToString()).Order(StringComparer.Ordinal));

    /// <summary>
    /// Re-instantiates a learner's binding on every change of its addresses. The first call of a learner that restored
    /// the very addresses its binding was just applied with changes nothing (the rules are in force).
    /// </summary>
    internal sealed class ReinstantiationSink(BindingManager manager, string appliedKey) : IAddressSink
    {
        public Task AddressesChangedAsync(IpLearner learner, AddressChange change, CancellationToken cancellationToken)
        {
            if (change.Cause is LeasesRestored && appliedKey.Length > 0 && Key(change.Addresses) == appliedKey)
            {
                var binding = manager.Store.Get(change.PortDevice);
                var clock = manager.Learners?.Clock ?? TimeProvider.System;
                learner.Report(new ReinstantiationSucceeded(change.PortDevice, clock.GetUtcNow(), binding?.Filter ?? "", RulesIPv4(binding, learner.Options, change),
                    change.IPv6Values, 0, TimeSpan.Zero));
                return Task.CompletedTask;
            }
            return manager.ReinstantiateLearnedAsync(learner, change, cancellationToken);
        }
    }
}
