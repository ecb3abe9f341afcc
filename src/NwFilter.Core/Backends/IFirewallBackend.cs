using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends;

/// <summary>
/// A firewall technology (libvirt's tech driver): turns resolved rule instances for one interface into a plan, and
/// plans the later phases. Every method is pure; an executor applies the plans.
/// </summary>
public interface IFirewallBackend
{
    /// <summary>The backend's name (<c>ebiptables</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Builds the interface's new rules under temporary names, after clearing leftovers of an earlier attempt
    /// (libvirt's applyNewRules). <paramref name="instances"/> must be in resolution order.
    /// </summary>
    FirewallPlan ApplyNewRules(string portDevice, IReadOnlyList<RuleInstance> instances);

    /// <summary>Replaces the interface's old rules with the new (temporary) ones (libvirt's tearOldRules).</summary>
    FirewallPlan TearOldRules(string portDevice);

    /// <summary>Removes the new (temporary) rules again, after a failure elsewhere (libvirt's tearNewRules).</summary>
    FirewallPlan TearNewRules(string portDevice);

    /// <summary>Removes everything for the interface, old and new (libvirt's allTeardown).</summary>
    FirewallPlan AllTeardown(string portDevice);
}
