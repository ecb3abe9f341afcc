using System.Collections.Immutable;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Apply;

public sealed partial class BindingManager
{
    /// <summary>
    /// The per-rule counters of the stored bindings (all, or those of <paramref name="portDevices"/>): for each rule
    /// instance and kernel chain, the packets and bytes its kernel rules counted (copies of one rule added up). With
    /// <paramref name="reset"/> the port's counters are zeroed as they are read (under the store's writers' lock, so no
    /// apply is half done), and the values returned are those they held. A port without a binding, an nftables binding
    /// without counters, and a binding waiting for its IP address are problems, not errors: the others are read.
    /// </summary>
    public async Task<(ImmutableArray<RuleStatistic> Rules, ImmutableArray<Diagnostic> Problems)> StatisticsAsync(IReadOnlyCollection<string>? portDevices,
        bool reset = false, CancellationToken cancellationToken = default)
    {
        using var held = reset ? Store.Lock(_options.LockTimeout, cancellationToken) : null;
        var (stored, problems) = Store.List();
        var list = problems.ToList();
        var selected = portDevices is null ? stored : [.. stored.Where(b => portDevices.Contains(b.PortDevice))];
        foreach (var missing in portDevices?.Where(p => stored.All(b => b.PortDevice != p)) ?? [])
        {
            list.Add(Diagnostic.Error(ApplyCodes.BindingNotFound, $"No binding on port {missing}{Where()}: it has no counters.", DiagnosticCategory.ObjectNotFound) with { Value = missing });
        }

        var byBackend = new Dictionary<IFirewallBackend, List<(FilterBinding Binding, CountedPort Port)>>();
        foreach (var binding in selected)
        {
            var backend = FirewallBackends.Get(binding.Backend);
            if (!backend.CountsAlways && !CountsRules(binding))
            {
                list.Add(Off(binding, backend, "its counters are off"));
                continue;
            }
            PreparedBinding prepared;
            try
            {
                prepared = Prepare(binding);
            }
            catch (NwFilterException e)
            {
                list.AddRange(e.Diagnostics);
                continue;
            }
            if (prepared.Learning is { Addresses.IsEmpty: true })
            {
                list.Add(Diagnostic.Error(ApplyCodes.StatisticsLearning,
                    $"Port {binding.PortDevice}{Where()} waits for its IP address to be learned: only the learning rules are in force, and they are not counted per rule.",
                    DiagnosticCategory.ResourceUnavailable) with { Value = binding.PortDevice });
                continue;
            }
            if (!byBackend.TryGetValue(backend, out var group))
            {
                byBackend[backend] = group = [];
            }
            group.Add((binding, new CountedPort(binding.PortDevice, prepared.Ruleset, prepared.Plan)));
        }

        var rules = new List<RuleStatistic>();
        foreach (var (backend, group) in byBackend)
        {
            var counts = await backend.ReadCountersAsync(HostRunner, NetworkNamespace, [.. group.Select(g => g.Port)], reset, cancellationToken).ConfigureAwait(false);
            foreach (var (binding, port) in group)
            {
                var own = counts.Where(c => c.PortDevice == binding.PortDevice && c.Origin is not null).ToList();
                if (own.Count == 0 && port.Ruleset.Instances.Length > 0)
                {
                    list.Add(backend.CountsAlways
                        ? Diagnostic.Warning(ApplyCodes.StatisticsOff, $"Port {binding.PortDevice}{Where()} has none of its rules in the kernel: Test-NwFilterBinding shows what is missing, Restore-NwFilterBinding puts them back.") with { Value = binding.PortDevice }
                        : Off(binding, backend, "its rules in the kernel have no counters (they were applied before counters were on, or are missing)"));
                    continue;
                }
                foreach (var rule in own.GroupBy(c => (c.Origin!.Ordinal, c.Chain)).OrderBy(g => g.Key.Ordinal).ThenBy(g => ChainRank(g.Key.Chain)).ThenBy(g => g.Key.Chain, StringComparer.Ordinal))
                {
                    var instance = rule.First().Origin!.Instance;
                    rules.Add(new RuleStatistic(binding.PortDevice, instance.FilterName, instance.RulePriority, instance.Rule.Action, instance.Rule.Direction,
                        rule.Key.Chain, rule.Sum(c => c.Packets), rule.Sum(c => c.Bytes))
                    {
                        NetworkNamespace = NetworkNamespace,
                        Backend = binding.Backend,
                        Ordinal = rule.Key.Ordinal,
                        Rule = Xml.NwFilterXmlWriter.Write(instance.Rule),
                        KernelRules = rule.Count(),
                    });
                }
            }
        }
        return ([.. rules.OrderBy(r => r.PortDevice, StringComparer.Ordinal)], [.. list]);
    }

    private Diagnostic Off(FilterBinding binding, IFirewallBackend backend, string why) =>
        Diagnostic.Error(ApplyCodes.StatisticsOff,
            $"Port {binding.PortDevice}{Where()} ({backend.Title}) has no per-rule counters: {why}. Apply it with Invoke-NwFilterBinding -Counters, " +
            "or set 'counters = on' in nwfilter.conf and run Restore-NwFilterBinding.", DiagnosticCategory.InvalidOperation) with { Value = binding.PortDevice };

    private string Where() => NetworkNamespace is null ? "" : $" in network namespace {NetworkNamespace}";

    /// <summary>Bridge chains from the VM first, then to it, then the layer-4 chains (nft roles and libvirt's chain names).</summary>
    private static int ChainRank(string chain) =>
        chain.StartsWith('I') || chain.StartsWith("libvirt-I", StringComparison.Ordinal) ? 0
        : chain.StartsWith('O') || chain.StartsWith("libvirt-O", StringComparison.Ordinal) ? 1
        : 2;
}
