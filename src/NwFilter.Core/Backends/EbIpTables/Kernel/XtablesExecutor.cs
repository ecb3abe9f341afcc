using System.Collections.Immutable;
using System.Diagnostics;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables.Kernel;

/// <summary>
/// Applies the ebtables/iptables backend's plans to the kernel with few processes and no moment at which a port is
/// unfiltered or filtered by a mix of old and new rules (docs/design/applying.md):
/// <list type="number">
/// <item><b>read</b>: one <c>*-save</c> per family (3 processes, run together);</item>
/// <item><b>build</b>: every port's new rules under temporary names, one restore transaction per family (up to 3).
/// Inert: nothing links to them yet (see <see cref="BuildPlanner"/>). A failure here removes what was built;</item>
/// <item><b>swap</b>: one <c>nft -f</c> transaction over all families and ports: unlink and delete the old chains, link
/// the new ones, rename them to their final names. All or nothing. Its rule handles are read first (one
/// <c>nft -a list chain</c> per base chain involved).</item>
/// </list>
/// A killed process leaves either the old rules (plus inert temporary chains the next apply removes) or the new ones.
/// </summary>
internal sealed partial class XtablesExecutor
{
    private static readonly TimeSpan TransactionTimeout = TimeSpan.FromMinutes(5);
    private readonly IProcessRunner _runner;

    public XtablesExecutor(IProcessRunner runner) => _runner = runner;

    /// <summary>Reports the step being run (for progress bars).</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>Plans an apply against a given state without running anything (-WhatIf).</summary>
    public static ImmutableArray<PlannedTransaction> PlanApply(KernelState state, IReadOnlyList<(string Port, FirewallPlan Plan)> ports)
    {
        var build = BuildPlanner.Plan(state, ports);
        var result = ImmutableArray.CreateBuilder<PlannedTransaction>();
        foreach (var family in KernelState.Families)
        {
            if (build.Batch(family) is { } batch)
            {
                result.Add(BuildTransaction(family, batch));
            }
        }
        var (swap, rename) = SwapPlanner.Swap(build);
        if (!swap.IsEmpty)
        {
            result.Add(NftTransaction(SwapStep(swap), swap.Describe()));
        }
        if (!rename.IsEmpty)
        {
            result.Add(NftTransaction("rename: the new chains take their final names (jumps follow)", rename.Describe()));
        }
        return result.ToImmutable();
    }

    /// <summary>Plans a removal against a given state without running anything.</summary>
    public static ImmutableArray<PlannedTransaction> PlanRemove(KernelState state, IReadOnlyCollection<string> ports, bool removeBaseChains)
    {
        var teardown = SwapPlanner.Teardown(state, ports, removeBaseChains);
        return teardown.IsEmpty ? [] : [NftTransaction("teardown: every family in one transaction", teardown.Describe())];
    }

    /// <summary>
    /// Applies the ports' plans. <paramref name="joined"/> are nft statements of another backend (its removal of ports
    /// moving here) that go into the swap transaction, so the old backend's rules of those ports go out in the very
    /// commit that puts these in force.
    /// </summary>
    public async Task<ExecutionReport> ApplyAsync(IReadOnlyList<(string Port, FirewallPlan Plan)> ports, CancellationToken cancellationToken,
        IReadOnlyList<string>? joined = null)
    {
        var clock = Stopwatch.StartNew();
        var counter = new ProcessCounter();
        var done = ImmutableArray.CreateBuilder<PlannedTransaction>();
        Progress?.Invoke("Reading the firewall");
        var state = await XtablesStateReader.ReadAsync(_runner, counter, cancellationToken).ConfigureAwait(false);
        var warnings = ImmutableArray.CreateBuilder<Diagnostic>();
        var repair = SwapPlanner.Repair(state);
        if (!repair.IsEmpty)
        {
            var transaction = NftTransaction("repair: rename chains a killed run left under temporary names", repair.ToNft(new Dictionary<(XtablesFamily, string), IReadOnlyList<NftRuleLine>>()));
            await RunAsync(counter, transaction, "finishing an earlier apply (renaming its chains)").ConfigureAwait(false);
            done.Add(transaction);
            state = repair.After();
        }
        var build = BuildPlanner.Plan(state, ports);
        var built = new List<XtablesFamily>();
        SwapPlan swap, rename = new(state, []);
        try
        {
            foreach (var family in KernelState.Families)
            {
                if (build.Batch(family) is not { } batch)
                {
                    continue;
                }
                cancellationToken.ThrowIfCancellationRequested();
                Progress?.Invoke($"Building the new {RestoreScript.ProgramName(family)} rules");
                var transaction = BuildTransaction(family, batch);
                await RunAsync(counter, transaction, $"building the new rules ({RestoreScript.ProgramName(family)} {batch.Tables[0]} table)").ConfigureAwait(false);
                built.Add(family);
                done.Add(transaction);
            }
            cancellationToken.ThrowIfCancellationRequested();

            (swap, rename) = SwapPlanner.Swap(build);
            if (!swap.IsEmpty || joined is { Count: > 0 })
            {
                Progress?.Invoke(HasOldRules(swap) || joined is { Count: > 0 } ? "Swapping old rules for new" : "Linking the new rules");
                var script = swap.IsEmpty ? "" : swap.ToNft(await ListAsync(counter, swap).ConfigureAwait(false));
                if (joined is { Count: > 0 })
                {
                    script += string.Concat(joined.Select(j => j + "\n"));
                }
                var transaction = NftTransaction("swap", script);
                await RunAsync(counter, transaction, "swapping the old rules for the new (one nft transaction)").ConfigureAwait(false);
                done.Add(transaction);
            }
        }
        catch (Exception e) when (e is NwFilterException or OperationCanceledException)
        {
            var consequence = await RollbackAsync(counter, build, built).ConfigureAwait(false);
            if (e is NwFilterException failure)
            {
                throw WithConsequence(failure, consequence);
            }
            throw;
        }

        // The new rules are in force. A failure from here on changes nothing a packet sees: it is a warning.
        if (!rename.IsEmpty)
        {
            Progress?.Invoke("Renaming the new chains");
            var transaction = NftTransaction("rename", rename.ToNft(new Dictionary<(XtablesFamily, string), IReadOnlyList<NftRuleLine>>()));
            try
            {
                await RunAsync(counter, transaction, "renaming the new chains to their final names").ConfigureAwait(false);
                done.Add(transaction);
            }
            catch (NwFilterException e)
            {
                warnings.Add(Diagnostic.Warning(ApplyCodes.CleanupFailed,
                    $"{e.Primary.Message} The new rules are in force under their temporary chain names; the next apply renames them."));
            }
        }
        return new ExecutionReport(done.ToImmutable(), counter.Count, clock.Elapsed) { Warnings = warnings.ToImmutable() };
    }

    public async Task<ExecutionReport> RemoveAsync(IReadOnlyCollection<string> ports, Func<KernelState, bool> removeBaseChains, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var counter = new ProcessCounter();
        Progress?.Invoke("Reading the firewall");
        var state = await XtablesStateReader.ReadAsync(_runner, counter, cancellationToken).ConfigureAwait(false);
        var teardown = SwapPlanner.Teardown(state, ports, removeBaseChains(state));
        if (teardown.IsEmpty)
        {
            return new ExecutionReport([], counter.Count, clock.Elapsed);
        }
        Progress?.Invoke("Removing the rules");
        var transaction = NftTransaction("teardown", teardown.ToNft(await ListAsync(counter, teardown).ConfigureAwait(false)));
        try
        {
            await RunAsync(counter, transaction, "removing the rules (one nft transaction)").ConfigureAwait(false);
        }
        catch (NwFilterException e)
        {
            throw WithConsequence(e, "Nothing was removed: the rules stay in force.");
        }
        return new ExecutionReport([transaction], counter.Count, clock.Elapsed);
    }

    /// <summary>
    /// The teardown of <paramref name="ports"/> as nft statements for another backend's transaction (nothing is run
    /// but the state and handle reads): null when there is nothing to remove.
    /// </summary>
    public async Task<(ImmutableArray<string> Statements, int ProcessLaunches)> PrepareTeardownAsync(IReadOnlyCollection<string> ports, bool removeBaseChains,
        CancellationToken cancellationToken)
    {
        var counter = new ProcessCounter();
        var state = await XtablesStateReader.ReadAsync(_runner, counter, cancellationToken).ConfigureAwait(false);
        var teardown = SwapPlanner.Teardown(state, ports, removeBaseChains);
        if (teardown.IsEmpty)
        {
            return ([], counter.Count);
        }
        var script = teardown.ToNft(await ListAsync(counter, teardown).ConfigureAwait(false));
        return ([.. script.Split('\n', StringSplitOptions.RemoveEmptyEntries)], counter.Count);
    }

    private async Task<IReadOnlyDictionary<(XtablesFamily, string), IReadOnlyList<NftRuleLine>>> ListAsync(ProcessCounter counter, SwapPlan plan)
    {
        var chains = plan.HandleChains.ToList();
        var results = await Task.WhenAll(chains.Select(async c =>
        {
            var request = SwapPlan.ListRequest(c.Family, c.Chain);
            ProcessResult result;
            try
            {
                result = await counter.RunAsync(_runner, request, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw ApplyErrors.RunnerFailed("reading rule handles", request, e, null);
            }
            return result.Succeeded ? SwapPlan.ParseListing(result.StandardOutput) : throw ApplyErrors.ToolFailed("reading rule handles", result, null, null);
        })).ConfigureAwait(false);
        return chains.Zip(results).ToDictionary(p => p.First, p => p.Second);
    }

    private async Task RunAsync(ProcessCounter counter, PlannedTransaction transaction, string step)
    {
        var request = new ProcessRequest(transaction.Program, transaction.Arguments) { StandardInput = transaction.Input, Timeout = TransactionTimeout };
        ProcessResult result;
        try
        {
            // Never cancelled half-way: a transaction commits or not; cancellation is honoured between transactions.
            result = await counter.RunAsync(_runner, request, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw ApplyErrors.RunnerFailed(step, request, e, null);
        }
        if (!result.Succeeded)
        {
            throw ApplyErrors.ToolFailed(step, result, transaction.Input, null);
        }
    }

    /// <summary>Undoes the committed builds (newest first); says what that means for the message.</summary>
    private async Task<string> RollbackAsync(ProcessCounter counter, BuildPlan build, List<XtablesFamily> built)
    {
        var problems = new List<string>();
        foreach (var family in Enumerable.Reverse(built))
        {
            if (BuildPlanner.Rollback(build, family) is not { } batch)
            {
                continue;
            }
            try
            {
                await RunAsync(counter, BuildTransaction(family, batch), $"removing the unused new {RestoreScript.ProgramName(family)} chains").ConfigureAwait(false);
            }
            catch (NwFilterException e)
            {
                problems.Add(e.Primary.Message);
            }
        }
        return problems.Count == 0
            ? "Nothing was swapped: the previous rules stay in force" + (built.Count > 0 ? " and the new chains were removed again." : ".")
            : "Nothing was swapped: the previous rules stay in force. Removing the unused new chains failed as well (" +
              string.Join("; ", problems) + "); they are inert, and the next apply of these ports removes them.";
    }

    private static NwFilterException WithConsequence(NwFilterException e, string consequence)
    {
        var primary = e.Primary;
        var message = primary.Message.EndsWith('.') ? primary.Message : primary.Message + ".";
        return new NwFilterException(e.Diagnostics.Select(d => ReferenceEquals(d, primary) ? d with { Message = $"{message} {consequence}" } : d), e.InnerException ?? e);
    }

    private static PlannedTransaction BuildTransaction(XtablesFamily family, RestoreBatch batch) =>
        new($"build: new {RestoreScript.ProgramName(family)} rules under temporary names (inert until the swap)", batch.RestoreProgram, ["--noflush"], batch.Text);

    /// <summary>True when the swap takes rules out (a port had rules before); a first apply only links the new ones.</summary>
    private static bool HasOldRules(SwapPlan swap) => swap.Ops.Any(o => o is DeleteRuleOp or FlushChainOp or DeleteChainOp);

    /// <summary>
    /// What the swap does, as the plan says it: "old rules out" only for the ports that had rules to take out, named
    /// (in a batch of new and existing ports, the new ones are not said to lose rules they never had).
    /// </summary>
    private static string SwapStep(SwapPlan swap)
    {
        if (!HasOldRules(swap))
        {
            return "swap: new rules in (no port had rules to take out), every family in one transaction";
        }
        var ports = OldRulePorts(swap);
        var whose = ports.Count == 0 ? "old rules" : $"old rules of {string.Join(", ", ports)}";
        return $"swap: {whose} out, new rules in, every family in one transaction";
    }

    /// <summary>The ports whose existing chains the swap flushes or deletes (libvirt's chain names end with the port device).</summary>
    private static List<string> OldRulePorts(SwapPlan swap) =>
        [.. swap.Ops.Select(o => o switch { FlushChainOp f => f.Chain, DeleteChainOp d => d.Chain, _ => null })
            .Select(c => c is null ? null : OwnChain().Match(c))
            .Where(m => m is { Success: true })
            .Select(m => m!.Groups["port"].Value)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)];

    // A port's root chains: libvirt-I-vnet0, libvirt-O-vnet0 (ebtables), FI-vnet0, FO-vnet0, HI-vnet0 (iptables).
    [System.Text.RegularExpressions.GeneratedRegex("^(?:libvirt-[IO]|[FH][IO])-(?<port>.+)$")]
    private static partial System.Text.RegularExpressions.Regex OwnChain();

    private static PlannedTransaction NftTransaction(string step, string script) => new(step, "nft", ["-f", "-"], script);
}
