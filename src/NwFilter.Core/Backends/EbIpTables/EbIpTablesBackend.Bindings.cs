using System.Net;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends.EbIpTables.Kernel;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>An ebtables/iptables binding's plan: libvirt's applyNewRules plan (or the learning rules in its shape).</summary>
internal sealed record XtablesPortPlan(string PortDevice, FirewallPlan Plan) : PortPlan(PortDevice);

/// <summary>
/// The binding side of the ebtables/iptables backend, pure: compile, learning rules, and plans on a snapshot. What runs
/// them is in Kernel/ (<see cref="XtablesExecutor"/>, <see cref="XtablesStateReader"/>).
/// </summary>
internal sealed partial class EbIpTablesBackend
{
    FirewallBackendKind IFirewallBackend.Kind => FirewallBackendKind.EbIpTables;

    string IFirewallBackend.Title => "EbIpTables";

    string IFirewallBackend.RulesTitle => "ebtables/iptables";

    PortPlan IFirewallBackend.Compile(string portDevice, Ruleset ruleset) => new XtablesPortPlan(portDevice, ruleset.Plan!);

    void IFirewallBackend.EnsureCanLearn(FilterBinding binding)
    {
        // Learning rules exist (LearningRules): nothing to refuse.
    }

    PortPlan IFirewallBackend.LearningRules(FilterBinding binding, IpLearningMode mode, IEnumerable<IPAddress> dhcpServers) =>
        new XtablesPortPlan(binding.PortDevice, EbIpTables.LearningRules.AsNewRules(binding.PortDevice, binding.MacAddress, mode, dhcpServers));

    FirewallPlan IFirewallBackend.DropAllRules(string portDevice) => EbIpTables.LearningRules.DropAllRules(portDevice);

    object IFirewallBackend.EmptyState => KernelState.Empty();

    IBackendFootprint IFirewallBackend.EmptyFootprint => new XtablesFootprint(KernelState.Empty());

    IEnumerable<PlannedTransaction> IFirewallBackend.PlanApply(object state, IReadOnlyList<PortPlan> set, IReadOnlyCollection<string> remove, bool noneRemain)
    {
        var kernel = (KernelState)state;
        var transactions = new List<PlannedTransaction>();
        if (set.Count > 0)
        {
            transactions.AddRange(XtablesExecutor.PlanApply(kernel, Plans(set)));
        }
        if (remove.Count > 0)
        {
            transactions.AddRange(XtablesExecutor.PlanRemove(kernel, remove, noneRemain));
        }
        return transactions;
    }

    IEnumerable<PlannedTransaction> IFirewallBackend.PlanRemove(object state, IReadOnlyCollection<string> ports, bool noneRemain) =>
        XtablesExecutor.PlanRemove((KernelState)state, ports, noneRemain);

    private static List<(string Port, FirewallPlan Plan)> Plans(IReadOnlyList<PortPlan> set) =>
        [.. set.Cast<XtablesPortPlan>().Select(p => (p.PortDevice, p.Plan))];
}
