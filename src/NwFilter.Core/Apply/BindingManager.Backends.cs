using System.Collections.Immutable;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Apply;

/// <summary>
/// Each binding is applied by its own backend (<see cref="FilterBinding.Backend"/>): EbIpTables bindings through
/// <see cref="XtablesExecutor"/> (build, then one swap transaction), nftables bindings through
/// <see cref="NftablesApplier"/> (one nft transaction for all of them).
/// </summary>
/// <remarks>
/// A batch runs in this order: (1) the EbIpTables bindings are applied; (2) one nft transaction sets the nftables
/// bindings and removes the nftables rules of ports that move to EbIpTables; (3) the ebtables/iptables rules of ports
/// that move to nftables are removed. So a port that changes backend always has its new rules in force before its old
/// ones go: for a moment both filter it (a packet must pass both), never neither. Each step is atomic on its own, but
/// the steps are not one transaction: when (1) fails nothing changed; when (2) fails the EbIpTables bindings are in
/// force and the nftables bindings keep their previous rules; when (3) fails the new rules are in force and the old
/// ones stay too (<see cref="ApplyCodes.OldBackendRulesRemain"/>) until Restore-NwFilterBinding removes them.
/// </remarks>
public sealed partial class BindingManager
{
    /// <summary>What a batch did on the firewall, and the nftables step's failure when only it failed.</summary>
    private sealed record BatchExecution(ExecutionReport Report, NwFilterException? NftFailure);

    /// <summary>Runs a batch of prepared bindings by backend (call under the store lock). Throws when step (1) fails.</summary>
    private async Task<BatchExecution> ExecuteAsync(IReadOnlyList<PreparedBinding> prepared, Action<BindingProgress>? progress, CancellationToken cancellationToken)
    {
        var stored = Store.List().Bindings.ToDictionary(b => b.PortDevice, b => b.Backend, StringComparer.Ordinal);
        var eb = prepared.Where(p => p.Binding.Backend == FirewallBackendKind.EbIpTables).ToList();
        var nft = prepared.Where(p => p.Binding.Backend == FirewallBackendKind.Nftables).ToList();
        var leavingNft = eb.Select(p => p.Binding.PortDevice).Where(p => stored.GetValueOrDefault(p, FirewallBackendKind.EbIpTables) == FirewallBackendKind.Nftables).ToList();
        var leavingEb = nft.Select(p => p.Binding.PortDevice).Where(p => stored.TryGetValue(p, out var b) && b == FirewallBackendKind.EbIpTables).ToHashSet(StringComparer.Ordinal);

        var report = ExecutionReport.None;
        if (eb.Count > 0)
        {
            report = await ExecuteXtablesAsync([.. eb.Select(p => (p.Binding.PortDevice, p.Plan))], progress, cancellationToken).ConfigureAwait(false);
        }
        NwFilterException? nftFailure = null;
        if (nft.Count > 0 || leavingNft.Count > 0)
        {
            progress?.Invoke(new BindingProgress("Applying the nftables transaction", 80));
            var changes = nft.Select(p => NftPortChange.Set(p.Nft!)).Concat(leavingNft.Select(NftPortChange.Remove)).ToList();
            try
            {
                report = Merge(report, FromNft(await Applier().ApplyAsync(changes, cancellationToken).ConfigureAwait(false)));
            }
            catch (NwFilterException e) when (eb.Count > 0)
            {
                nftFailure = e;
            }
            if (nftFailure is not null && leavingNft.Count > 0)
            {
                report = report with
                {
                    Warnings = report.Warnings.Add(Diagnostic.Warning(ApplyCodes.OldBackendRulesRemain,
                        $"The EbIpTables rules of {string.Join(", ", leavingNft)} are in force, but their old nftables rules could not be removed " +
                        $"({nftFailure.Primary.Message.TrimEnd('.')}); both filter the port until Restore-NwFilterBinding removes them.")),
                };
            }
        }
        if (leavingEb.Count > 0 && nftFailure is null)
        {
            // After this batch, the EbIpTables bindings are the stored ones not moving away plus those of this batch.
            var remaining = stored.Where(kv => kv.Value == FirewallBackendKind.EbIpTables && !leavingEb.Contains(kv.Key)).Select(kv => kv.Key)
                .Concat(eb.Select(p => p.Binding.PortDevice)).Any();
            try
            {
                report = Merge(report, await new XtablesExecutor(HostRunner).RemoveAsync(leavingEb, _ => !remaining, cancellationToken).ConfigureAwait(false));
            }
            catch (NwFilterException e)
            {
                report = report with
                {
                    Warnings = report.Warnings.Add(Diagnostic.Warning(ApplyCodes.OldBackendRulesRemain,
                        $"The nftables rules of {string.Join(", ", leavingEb.Order(StringComparer.Ordinal))} are in force, but their old ebtables/iptables rules " +
                        $"could not be removed ({e.Primary.Message.TrimEnd('.')}); both filter the port until Restore-NwFilterBinding removes them.")),
                };
            }
        }
        return new BatchExecution(report, nftFailure);
    }

    private Task<ExecutionReport> ExecuteXtablesAsync(IReadOnlyList<(string Port, FirewallPlan Plan)> plans, Action<BindingProgress>? progress, CancellationToken cancellationToken)
    {
        var step = 0;
        var executor = new XtablesExecutor(HostRunner) { Progress = s => progress?.Invoke(new BindingProgress(s, Math.Min(75, 40 + 12 * step++))) };
        return executor.ApplyAsync(plans, cancellationToken);
    }

    /// <summary>An applier for this namespace's nftables (<see cref="HostRunner"/> already runs inside it).</summary>
    private NftablesApplier Applier() => new(HostRunner);

    /// <summary>Reads NwFilter's nftables chains; null (with why) when they cannot be read.</summary>
    private async Task<(NftState? State, string? Reason)> TryReadNftAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await Applier().ReadStateAsync(cancellationToken).ConfigureAwait(false), null);
        }
        catch (NwFilterException e)
        {
            return (null, e.Primary.Message);
        }
    }

    /// <summary>Removes the nftables chains of ports without an nftables binding (restoring all); returns what ran.</summary>
    private async Task<(ExecutionReport Report, ImmutableArray<string> Removed)> RemoveNftOrphansAsync(IReadOnlyCollection<FilterBinding> stored, CancellationToken cancellationToken)
    {
        var (state, _) = await TryReadNftAsync(cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            // nft missing or not permitted: with no nftables binding there is nothing of ours to remove.
            return (ExecutionReport.None, []);
        }
        var orphans = NftablesApplier.PortsOf(state)
            .Where(p => !stored.Any(b => b.PortDevice == p && b.Backend == FirewallBackendKind.Nftables)).ToList();
        if (orphans.Count == 0)
        {
            return (ExecutionReport.None, []);
        }
        var report = await Applier().RemoveAsync(orphans, cancellationToken).ConfigureAwait(false);
        return (FromNft(report), [.. orphans]);
    }

    /// <summary>An nftables apply as an execution report (its one transaction).</summary>
    private static ExecutionReport FromNft(NftApplyReport report) =>
        new(report.Script.IsEmpty ? [] : [NftScriptTransaction(report.Script)], report.ProcessLaunches, report.Elapsed);

    private static PlannedTransaction NftScriptTransaction(NftScript script) =>
        new("nftables: every nftables binding in one transaction", NftablesApplier.NftProgram, ["-f", "-"], script.Text);

    private static ExecutionReport Merge(ExecutionReport a, ExecutionReport b) =>
        new(a.Transactions.AddRange(b.Transactions), a.ProcessLaunches + b.ProcessLaunches, a.Elapsed + b.Elapsed) { Warnings = a.Warnings.AddRange(b.Warnings) };
}
