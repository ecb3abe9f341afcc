using NwFilter.Core.Apply;
using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// Per-rule counters on nftables: the <c>counter</c> statements of NwFilter's rules (a binding with counters), read with
/// <c>nft -j list table</c> and mapped back to their rule instances by the provenance comment; reset through netlink
/// (<see cref="NftCounterReset"/>).
/// </summary>
internal sealed partial class NftablesBackend
{
    async Task<IReadOnlyList<KernelRuleCount>> IFirewallBackend.ReadCountersAsync(IProcessRunner runner, string? networkNamespace, IReadOnlyList<CountedPort> ports,
        bool reset, CancellationToken cancellationToken)
    {
        var kernel = new List<NftKernelRule>();
        foreach (var family in new[] { "bridge", "inet" })
        {
            var request = new ProcessRequest(NftablesApplier.NftProgram, "-j", "list", "table", family, NftNames.Table) { Timeout = TimeSpan.FromMinutes(1) };
            var result = await runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                if (result.StandardError.Contains("No such file or directory", StringComparison.Ordinal))
                {
                    continue; // no table: no rules of this family
                }
                throw ApplyErrors.ToolFailed("reading NwFilter's nftables counters", result, null, null);
            }
            kernel.AddRange(NftProvenance.ReadRules(result.StandardOutput));
        }

        var counts = new List<KernelRuleCount>();
        var mapped = new List<(string Port, NftRuleProvenance Rule)>();
        foreach (var port in ports)
        {
            foreach (var rule in NftProvenance.Map(((NftPortPlan)port.Plan).Ruleset, kernel))
            {
                if (rule.Rule.Packets is not null)
                {
                    mapped.Add((port.PortDevice, rule));
                }
            }
        }
        Dictionary<(string Chain, long Handle), (long Packets, long Bytes)>? held = null;
        if (reset)
        {
            held = [];
            foreach (var family in mapped.GroupBy(m => m.Rule.Rule.Family))
            {
                var chains = family.Select(m => m.Rule.Rule.Chain).Distinct(StringComparer.Ordinal).ToList();
                try
                {
                    foreach (var (chain, rules) in await NftCounterReset.ResetAsync(networkNamespace, family.Key, NftNames.Table, chains).ConfigureAwait(false))
                    {
                        foreach (var (handle, packets, bytes) in rules)
                        {
                            held[(chain, handle)] = (packets, bytes);
                        }
                    }
                }
                catch (InvalidOperationException e)
                {
                    throw new NwFilterException(Diagnostic.Error(ApplyCodes.StatisticsResetFailed,
                        $"Resetting the nftables counters of {family.Key} {NftNames.Table} failed: {e.Message}", DiagnosticCategory.InvalidOperation));
                }
            }
        }
        foreach (var (port, rule) in mapped)
        {
            var (packets, bytes) = held is not null && held.TryGetValue((rule.Rule.Chain, rule.Rule.Handle), out var v) ? v : (rule.Rule.Packets!.Value, rule.Rule.Bytes ?? 0);
            counts.Add(new KernelRuleCount(port, rule.Role, rule.Origin, packets, bytes));
        }
        return counts;
    }
}
