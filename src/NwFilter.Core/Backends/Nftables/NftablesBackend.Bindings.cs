using System.Net;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>An nftables binding's plan: its compiled port ruleset.</summary>
internal sealed record NftPortPlan(NftPortRuleset Ruleset) : PortPlan(Ruleset.PortDevice);

/// <summary>
/// The binding side of the nftables backend, pure: compile, the learning rules, and scripts planned on a snapshot.
/// What runs them is in Kernel/ (<see cref="NftablesApplier"/>, <see cref="LibNftablesRunner"/>).
/// </summary>
internal sealed partial class NftablesBackend
{
    FirewallBackendKind IFirewallBackend.Kind => FirewallBackendKind.Nftables;

    string IFirewallBackend.Title => BackendName;

    bool IFirewallBackend.CompilesFromInstances => true;

    string IFirewallBackend.RulesTitle => BackendName;

    PortPlan IFirewallBackend.Compile(string portDevice, Ruleset ruleset) => new NftPortPlan(NftablesCompiler.Compile(portDevice, ruleset.Instances));

    PortPlan IFirewallBackend.WithCounters(PortPlan plan) => new NftPortPlan(NftablesCompiler.WithCounters(((NftPortPlan)plan).Ruleset));

    void IFirewallBackend.EnsureCanLearn(FilterBinding binding)
    {
        // Learning rules exist (NftLearningRules): nothing to refuse.
    }

    PortPlan IFirewallBackend.LearningRules(FilterBinding binding, IpLearningMode mode, IEnumerable<IPAddress> dhcpServers)
    {
        ArgumentNullException.ThrowIfNull(binding);
        NftScriptPlanner.ValidateForNft(binding.PortDevice);
        return new NftPortPlan(NftLearningRules.For(binding.PortDevice, binding.MacAddress, mode, dhcpServers));
    }

    FirewallPlan IFirewallBackend.DropAllRules(string portDevice)
    {
        NftScriptPlanner.ValidateForNft(portDevice);
        return Planned("ApplyDropAllRules", portDevice, new StateQuery([NftPortChange.Set(NftLearningRules.DropAll(portDevice))]));
    }

    object IFirewallBackend.EmptyState => NftState.Empty;

    IBackendFootprint IFirewallBackend.EmptyFootprint => new NftFootprintView("");

    IEnumerable<PlannedTransaction> IFirewallBackend.PlanApply(object state, IReadOnlyList<PortPlan> set, IReadOnlyCollection<string> remove, bool noneRemain) =>
        Planned((NftState)state, Changes(set, remove));

    IEnumerable<PlannedTransaction> IFirewallBackend.PlanRemove(object state, IReadOnlyCollection<string> ports, bool noneRemain) =>
        Planned((NftState)state, Changes([], ports));

    private static IEnumerable<PlannedTransaction> Planned(NftState state, List<NftPortChange> changes)
    {
        var script = NftScriptPlanner.Plan(state, changes);
        return script.IsEmpty ? [] : [ScriptTransaction(script)];
    }

    /// <summary>The ports of <paramref name="set"/> set and those of <paramref name="remove"/> removed, in one list (one transaction).</summary>
    private static List<NftPortChange> Changes(IReadOnlyList<PortPlan> set, IReadOnlyCollection<string> remove) =>
        [.. set.Cast<NftPortPlan>().Select(p => NftPortChange.Set(p.Ruleset)), .. remove.Select(NftPortChange.Remove)];

    /// <summary>An nftables apply as an execution report (its one transaction).</summary>
    private static ExecutionReport Report(NftApplyReport report) =>
        new(report.Script.IsEmpty ? [] : [ScriptTransaction(report.Script)], report.ProcessLaunches, report.Elapsed);

    private static PlannedTransaction ScriptTransaction(NftScript script) =>
        new("nftables: every nftables binding in one transaction", NftablesApplier.NftProgram, ["-f", "-"], script.Text);
}
