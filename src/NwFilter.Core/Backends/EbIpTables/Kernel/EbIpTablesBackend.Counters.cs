using NwFilter.Core.Apply;
using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// Per-rule counters on ebtables/iptables: the counters the kernel keeps for every rule, read with <c>*-save -c</c>
/// (one process per family) and mapped back to the plan's commands by chain and position
/// (<see cref="XtablesProvenance"/>). The rules are libvirt's, byte-exact: nothing is added to them. A reset goes
/// through netlink where the tools are the nft variants (their tables are nf_tables tables: a rule dump with reset per
/// chain reads and zeroes in one step, <see cref="NftCounterReset"/>); with the legacy tools it is <c>-Z CHAIN</c> per
/// chain after the read (ebtables-nft 1.8.9's own -Z fails on chains with ARP matches: "RULE_REPLACE failed").
/// </summary>
internal sealed partial class EbIpTablesBackend
{
    bool IFirewallBackend.CountsAlways => true;

    async Task<IReadOnlyList<KernelRuleCount>> IFirewallBackend.ReadCountersAsync(IProcessRunner runner, string? networkNamespace, IReadOnlyList<CountedPort> ports,
        bool reset, CancellationToken cancellationToken)
    {
        var counts = new List<KernelRuleCount>();
        foreach (var family in KernelState.Families)
        {
            var program = RestoreScript.ProgramName(family);
            var table = XtablesTable.TableOf(family);
            var request = new ProcessRequest(program + "-save", "-c", "-t", table) { Timeout = TimeSpan.FromMinutes(1) };
            var result = await runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                throw ApplyErrors.ToolFailed("reading the ebtables/iptables counters", result, null, null);
            }
            var (listing, counters) = XtablesCounters.Split(result.StandardOutput);
            var mapped = ports.SelectMany(port => XtablesProvenance.Map(port.Ruleset.Commands, port.PortDevice, program, listing).Select(rule => (port.PortDevice, rule))).ToList();
            if (reset && mapped.Count > 0)
            {
                var chains = mapped.Select(m => m.rule.Chain).Distinct(StringComparer.Ordinal).ToList();
                Dictionary<string, List<(long Handle, long Packets, long Bytes)>>? held = null;
                try
                {
                    held = await NftCounterReset.ResetAsync(networkNamespace, NfFamily(family), table, chains).ConfigureAwait(false);
                }
                catch (InvalidOperationException)
                {
                    // Not an nf_tables table (legacy tools): zero each chain with the tool.
                    foreach (var chain in chains)
                    {
                        var zero = await runner.RunAsync(new ProcessRequest(program, "-t", table, "-Z", chain) { Timeout = TimeSpan.FromMinutes(1) }, cancellationToken).ConfigureAwait(false);
                        if (!zero.Succeeded)
                        {
                            throw ApplyErrors.ToolFailed("resetting the ebtables/iptables counters", zero, null, null);
                        }
                    }
                }
                if (held is not null)
                {
                    foreach (var (chain, rules) in held)
                    {
                        for (var i = 0; i < rules.Count; i++)
                        {
                            counters[(chain, i)] = (rules[i].Packets, rules[i].Bytes);
                        }
                    }
                }
            }
            foreach (var (port, rule) in mapped)
            {
                if (counters.TryGetValue((rule.Chain, rule.Position), out var c))
                {
                    counts.Add(new KernelRuleCount(port, rule.Chain, rule.Origin, c.Packets, c.Bytes));
                }
            }
        }
        return counts;
    }

    private static string NfFamily(XtablesFamily family) => family switch
    {
        XtablesFamily.Ebtables => "bridge",
        XtablesFamily.Iptables => "ip",
        XtablesFamily.Ip6tables => "ip6",
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };
}
