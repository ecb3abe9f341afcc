using System.Collections.Immutable;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends.EbIpTables.Kernel;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// The host side of the ebtables/iptables backend: reading its tables and applying or removing plans through
/// <see cref="XtablesExecutor"/> (build, then one swap transaction; docs/design/applying.md).
/// </summary>
internal sealed partial class EbIpTablesBackend
{
    async Task<object> IFirewallBackend.ReadStateAsync(IProcessRunner runner, CancellationToken cancellationToken) =>
        await XtablesStateReader.ReadAsync(runner, new ProcessCounter(), cancellationToken).ConfigureAwait(false);

    async Task<ExecutionReport> IFirewallBackend.ApplyAsync(IProcessRunner runner, IReadOnlyList<PortPlan> set, IReadOnlyCollection<string> remove, bool noneRemain,
        JoinedRemoval? joined, Action<BindingProgress>? progress, CancellationToken cancellationToken)
    {
        var report = ExecutionReport.None;
        if (set.Count > 0)
        {
            var step = 0;
            var executor = new XtablesExecutor(runner) { Progress = s => progress?.Invoke(new BindingProgress(s, Math.Min(75, 40 + 12 * step++))) };
            report = await executor.ApplyAsync(Plans(set), cancellationToken, joined?.Statements).ConfigureAwait(false);
            report = report with { ProcessLaunches = report.ProcessLaunches + (joined?.ProcessLaunches ?? 0) };
        }
        else if (joined is not null)
        {
            throw new InvalidOperationException("A joined removal needs bindings of this backend to carry it.");
        }
        if (remove.Count > 0)
        {
            report = ExecutionReport.Merge(report, await new XtablesExecutor(runner).RemoveAsync(remove, _ => noneRemain, cancellationToken).ConfigureAwait(false));
        }
        return report;
    }

    /// <summary>The ports' teardown (libvirt's allTeardown, as the teardown transaction writes it) for an nft transaction of the backend they move to.</summary>
    async Task<JoinedRemoval?> IFirewallBackend.PrepareJoinedRemovalAsync(IProcessRunner runner, IReadOnlyCollection<string> ports, bool noneRemain,
        CancellationToken cancellationToken)
    {
        var (statements, launches) = await new XtablesExecutor(runner).PrepareTeardownAsync(ports, noneRemain, cancellationToken).ConfigureAwait(false);
        return new JoinedRemoval(Model.FirewallBackendKind.EbIpTables, [.. ports], statements, launches);
    }

    void IFirewallBackend.JoinedRemovalCommitted(IProcessRunner runner, JoinedRemoval removal)
    {
        // Nothing is held: every apply reads the tables first.
    }

    Task<ExecutionReport> IFirewallBackend.RemoveAsync(IProcessRunner runner, IReadOnlyCollection<string> ports, bool noneRemain,
        Action<BindingProgress>? progress, CancellationToken cancellationToken)
    {
        var executor = new XtablesExecutor(runner) { Progress = s => progress?.Invoke(new BindingProgress(s, -1)) };
        return executor.RemoveAsync(ports, _ => noneRemain, cancellationToken);
    }

    async Task<(ExecutionReport Report, ImmutableArray<string> Removed)> IFirewallBackend.RemoveOrphansAsync(IProcessRunner runner, IReadOnlySet<string> bound,
        CancellationToken cancellationToken)
    {
        var state = await XtablesStateReader.ReadAsync(runner, new ProcessCounter(), cancellationToken).ConfigureAwait(false);
        var orphans = PortChains.PortsWithChains(state).Where(p => !bound.Contains(p)).ToList();
        if (orphans.Count == 0)
        {
            return (ExecutionReport.None, []);
        }
        var removed = await new XtablesExecutor(runner).RemoveAsync(orphans, _ => bound.Count == 0, cancellationToken).ConfigureAwait(false);
        // The three saves of the read above count too.
        return (new ExecutionReport(removed.Transactions, removed.ProcessLaunches + 3, TimeSpan.Zero), [.. orphans]);
    }

    async Task<IBackendFootprint> IFirewallBackend.ReadFootprintAsync(IProcessRunner runner, bool required, CancellationToken cancellationToken) =>
        new XtablesFootprint(await XtablesStateReader.ReadAsync(runner, new ProcessCounter(), cancellationToken).ConfigureAwait(false));
}
