using System.Collections.Immutable;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// The host side of the nftables backend: reading NwFilter's chains and applying or removing ports' rules through
/// <see cref="NftablesApplier"/>, one <c>nft -f</c> transaction per call (docs/design/nftables.md).
/// </summary>
internal sealed partial class NftablesBackend
{
    /// <summary>One applier per held context, so the state its last commit left is planned on next time (checked by generation).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<HeldNftablesContext, NftablesApplier> Held = [];

    /// <summary>The applier for <paramref name="runner"/>: the held context's own (kept), else a new one (it lists the state first).</summary>
    internal static NftablesApplier Applier(IProcessRunner runner) =>
        runner is HeldNftablesContext held ? Held.GetValue(held, h => new NftablesApplier(h)) : new NftablesApplier(runner);

    async Task<object> IFirewallBackend.ReadStateAsync(IProcessRunner runner, CancellationToken cancellationToken) =>
        await Applier(runner).ReadStateAsync(cancellationToken).ConfigureAwait(false);

    async Task<ExecutionReport> IFirewallBackend.ApplyAsync(IProcessRunner runner, IReadOnlyList<PortPlan> set, IReadOnlyCollection<string> remove, bool noneRemain,
        JoinedRemoval? joined, Action<BindingProgress>? progress, CancellationToken cancellationToken)
    {
        progress?.Invoke(new BindingProgress("Applying the nftables transaction", 80));
        var report = Report(await Applier(runner).ApplyAsync(Changes(set, remove), cancellationToken, joined?.Statements).ConfigureAwait(false));
        return report with { ProcessLaunches = report.ProcessLaunches + (joined?.ProcessLaunches ?? 0) };
    }

    /// <summary>The ports' chains and map elements (or, when none remain, NwFilter's tables) removed, as statements planned on a fresh read.</summary>
    async Task<JoinedRemoval?> IFirewallBackend.PrepareJoinedRemovalAsync(IProcessRunner runner, IReadOnlyCollection<string> ports, bool noneRemain,
        CancellationToken cancellationToken)
    {
        var state = await Applier(runner).ReadStateAsync(cancellationToken).ConfigureAwait(false);
        var script = NftScriptPlanner.Plan(state, Changes([], ports));
        return new JoinedRemoval(Model.FirewallBackendKind.Nftables, [.. ports], script.Statements, 1);
    }

    /// <summary>Our tables changed in another backend's transaction: the applier reads them again next time.</summary>
    void IFirewallBackend.JoinedRemovalCommitted(IProcessRunner runner, JoinedRemoval removal) => Applier(runner).Invalidate();

    async Task<ExecutionReport> IFirewallBackend.RemoveAsync(IProcessRunner runner, IReadOnlyCollection<string> ports, bool noneRemain,
        Action<BindingProgress>? progress, CancellationToken cancellationToken)
    {
        progress?.Invoke(new BindingProgress("Removing the nftables rules", -1));
        return Report(await Applier(runner).RemoveAsync(ports, cancellationToken).ConfigureAwait(false));
    }

    async Task<(ExecutionReport Report, ImmutableArray<string> Removed)> IFirewallBackend.RemoveOrphansAsync(IProcessRunner runner, IReadOnlySet<string> bound,
        CancellationToken cancellationToken)
    {
        var applier = Applier(runner);
        NftState state;
        try
        {
            state = await applier.ReadStateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NwFilterException)
        {
            // nft missing or not permitted: with no nftables binding there is nothing of ours to remove.
            return (ExecutionReport.None, []);
        }
        var orphans = NftablesApplier.PortsOf(state).Where(p => !bound.Contains(p)).ToList();
        if (orphans.Count == 0)
        {
            return (ExecutionReport.None, []);
        }
        return (Report(await applier.RemoveAsync(orphans, cancellationToken).ConfigureAwait(false)), [.. orphans]);
    }

    async Task<IBackendFootprint> IFirewallBackend.ReadFootprintAsync(IProcessRunner runner, bool required, CancellationToken cancellationToken) =>
        new NftFootprintView(await ListRulesetAsync(runner, required, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// <c>nft list ruleset</c> where <paramref name="runner"/> runs; when nft cannot run and nothing needs it, an empty
    /// listing (a host without nft has no nftables bindings).
    /// </summary>
    private static async Task<string> ListRulesetAsync(IProcessRunner runner, bool required, CancellationToken cancellationToken)
    {
        var request = new ProcessRequest(NftablesApplier.NftProgram, "list", "ruleset") { Timeout = TimeSpan.FromMinutes(2) };
        ProcessResult result;
        try
        {
            result = await runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!required && e is not OperationCanceledException)
        {
            return "";
        }
        if (!result.Succeeded)
        {
            if (!required)
            {
                return "";
            }
            throw ApplyErrors.ToolFailed("reading NwFilter's nftables tables", result, null, null);
        }
        return result.StandardOutput;
    }
}
