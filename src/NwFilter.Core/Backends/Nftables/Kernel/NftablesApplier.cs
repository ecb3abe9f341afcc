using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.Nftables.Kernel;

/// <summary>What an apply did.</summary>
/// <param name="Script">The transaction committed (empty when there was nothing to do).</param>
/// <param name="ProcessLaunches">Processes launched: a listing unless the state was known, and one <c>nft -f</c> unless
/// there was nothing to do (two more when a known state had gone stale).</param>
/// <param name="Elapsed">Wall time.</param>
internal sealed record NftApplyReport(NftScript Script, int ProcessLaunches, TimeSpan Elapsed)
{
    public NftScript Script { get; internal init; } = Script;
    public int ProcessLaunches { get; internal init; } = ProcessLaunches;
    public TimeSpan Elapsed { get; internal init; } = Elapsed;

    /// <summary>Wall time of the <c>nft -f</c> that committed.</summary>
    public TimeSpan TransactionElapsed { get; internal init; }

    /// <summary>True when the state known from the last apply was stale: the transaction failed, and was planned again on a fresh read.</summary>
    public bool Replanned { get; internal init; }
}

/// <summary>
/// Applies port changes to a network namespace's nftables in ONE transaction: one <c>nft -j list chains</c> to learn
/// the ports' ids and generations, then one <c>nft -f -</c> with the whole script (docs/design/nftables.md). nft commits
/// all of it or nothing, across the bridge and inet tables, so a failure leaves the previous rules in force and no
/// packet ever sees a port half-updated.
/// </summary>
/// <remarks>
/// After a commit the applier knows the state (the script's <see cref="NftScript.Result"/>) and plans the next change
/// on it without listing again. A state gone stale (someone else changed the tables) can only make the transaction fail
/// (per-port chains are made with <c>create</c>, elements keyed by port and id refuse another value), never commit
/// something wrong: then the applier reads the state and plans once more. Calls on one instance are serialised; two
/// processes driving one namespace must not overlap (the binding store's lock does that).
/// </remarks>
internal sealed partial class NftablesApplier
{
    /// <summary>The nft program.</summary>
    public const string NftProgram = "nft";

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private readonly IProcessRunner _runner;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private NftState? _known;
    private (long Epoch, uint? Generation) _knownGeneration = (-1, null);

    /// <summary>An applier whose nft runs through <paramref name="runner"/>, inside <paramref name="networkNamespace"/> when given.</summary>
    public NftablesApplier(IProcessRunner runner, string? networkNamespace = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = networkNamespace is null ? runner : new NamespacedProcessRunner(runner, networkNamespace);
        NetworkNamespace = networkNamespace;
    }

    /// <summary>The namespace whose firewall is driven; null for the runner's own.</summary>
    public string? NetworkNamespace { get; }

    /// <summary>Reads which ports have chains (and their ids and generations).</summary>
    public async Task<NftState> ReadStateAsync(CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(new ProcessRequest(NftProgram, "-j", "list", "chains") { Timeout = Timeout }, "reading NwFilter's nftables chains", cancellationToken)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw Failed("reading NwFilter's nftables chains", result, null);
        }
        return NftState.ParseChainListing(result.StandardOutput);
    }

    /// <summary>The script <paramref name="changes"/> would run now (nothing is changed).</summary>
    public async Task<NftScript> PlanAsync(IReadOnlyList<NftPortChange> changes, CancellationToken cancellationToken = default) =>
        NftScriptPlanner.Plan(await ReadStateAsync(cancellationToken).ConfigureAwait(false), changes);

    /// <summary>Forgets the state known from the last apply: the next apply lists the chains first.</summary>
    public void Invalidate() => _known = null;

    /// <summary>True when the next apply plans on the state its last commit left (no listing first).</summary>
    public bool KnowsState => _known is not null;

    /// <summary>
    /// With a runner that reads the kernel's generation (<see cref="INftGenerationSource"/>, the held context): the
    /// state known from the last commit is used only while the generation is still the one that commit made, so
    /// another process's change (another session, nft by hand, firewalld) is always seen: the state is read again.
    /// </summary>
    private async Task<(long Epoch, uint? Generation)?> GenerationAsync() =>
        _runner is INftGenerationSource source ? await source.GenerationAsync().ConfigureAwait(false) : null;

    /// <summary>
    /// Creates, replaces and removes ports' rules, all in one transaction. <paramref name="joined"/> are statements on
    /// other tables (the xtables-nft teardown of ports moving here) committed in that same transaction; they leave
    /// NwFilter's tables alone, so the state known afterwards is still this script's result.
    /// </summary>
    public async Task<NftApplyReport> ApplyAsync(IReadOnlyList<NftPortChange> changes, CancellationToken cancellationToken = default,
        IReadOnlyList<string>? joined = null)
    {
        ArgumentNullException.ThrowIfNull(changes);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var clock = Stopwatch.StartNew();
            var launches = 0;
            var known = _known;
            _known = null; // unknown until this apply ends well
            var before = await GenerationAsync().ConfigureAwait(false);
            if (known is not null && before is { } now && (now.Generation is null || now != _knownGeneration))
            {
                known = null; // someone else committed since (or the generation cannot be read): read the state
            }
            var state = known;
            if (state is null)
            {
                state = await ReadStateAsync(cancellationToken).ConfigureAwait(false);
                launches++;
            }
            Diagnostics.PhaseTimings.Mark("nftables: generation and state");
            var script = Join(NftScriptPlanner.Plan(state, changes), joined);
            Diagnostics.PhaseTimings.Mark("nftables: plan the script");
            var replanned = false;
            var transaction = TimeSpan.Zero;
            if (!script.IsEmpty)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    launches++;
                    transaction = await TimedRunAsync(script).ConfigureAwait(false);
                }
                catch (NwFilterException e) when (known is not null && e.Primary.Code == NftablesCodes.NftFailed)
                {
                    // The state known from the last apply was stale: read it and plan again, once.
                    replanned = true;
                    state = await ReadStateAsync(cancellationToken).ConfigureAwait(false);
                    script = Join(NftScriptPlanner.Plan(state, changes), joined);
                    launches += script.IsEmpty ? 1 : 2;
                    transaction = script.IsEmpty ? TimeSpan.Zero : await TimedRunAsync(script).ConfigureAwait(false);
                }
            }
            Diagnostics.PhaseTimings.Mark("nftables: transaction");
            _known = script.IsEmpty ? state : script.Result;
            if (before is { Generation: { } g0 } b)
            {
                // Trusted next time only when this apply was the one commit since the generation read before it.
                var after = await GenerationAsync().ConfigureAwait(false);
                // (A refused transaction commits nothing, so a replanned apply also moves the generation by one.)
                var expected = script.IsEmpty ? g0 : unchecked(g0 + 1);
                if (after is { Generation: { } g1 } a && a.Epoch == b.Epoch && g1 == expected)
                {
                    _knownGeneration = a;
                }
                else
                {
                    _known = null;
                }
            }
            return new NftApplyReport(script, launches, clock.Elapsed) { TransactionElapsed = transaction, Replanned = replanned };
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The script with another backend's statements in front (one transaction; nft error lines still index its statements).</summary>
    private static NftScript Join(NftScript script, IReadOnlyList<string>? joined) =>
        joined is not { Count: > 0 } ? script : script with { Statements = [.. joined, .. script.Statements] };

    private async Task<TimeSpan> TimedRunAsync(NftScript script)
    {
        var clock = Stopwatch.StartNew();
        await RunScriptAsync(script, check: false).ConfigureAwait(false);
        return clock.Elapsed;
    }

    /// <summary>Removes the ports' rules (their chains and map elements); the last port takes the tables with it.</summary>
    public Task<NftApplyReport> RemoveAsync(IEnumerable<string> portDevices, CancellationToken cancellationToken = default) =>
        ApplyAsync([.. portDevices.Select(NftPortChange.Remove)], cancellationToken);

    /// <summary>Runs <c>nft -c -f -</c>: the kernel checks the whole transaction and commits nothing.</summary>
    public Task CheckAsync(NftScript script) => RunScriptAsync(script, check: true);

    /// <summary>Runs a script as one transaction (or, with <paramref name="check"/>, only checks it).</summary>
    public async Task RunScriptAsync(NftScript script, bool check)
    {
        ArgumentNullException.ThrowIfNull(script);
        var step = check ? "checking the nftables transaction" : "applying the nftables transaction";
        string[] arguments = check ? ["-c", "-f", "-"] : ["-f", "-"];
        // Never cancelled half-way: a transaction commits or not.
        var result = await RunAsync(new ProcessRequest(NftProgram, arguments) { StandardInput = script.Text, Timeout = Timeout }, step, CancellationToken.None)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw Failed(step, result, script);
        }
    }

    private async Task<ProcessResult> RunAsync(ProcessRequest request, string step, CancellationToken cancellationToken)
    {
        try
        {
            return await _runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not NwFilterException)
        {
            throw new NwFilterException(Diagnostic.Error(NftablesCodes.NftUnavailable,
                $"{char.ToUpperInvariant(step[0])}{step[1..]} failed: '{request}' could not be run ({e.Message}).", DiagnosticCategory.ResourceUnavailable), e);
        }
    }

    [GeneratedRegex(@"^(?:/dev/stdin|-):(\d+):(\d+)(?:-\d+)?: Error: (.*)$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex NftError();

    /// <summary>
    /// A failed nft as a diagnostic: the first error, its line in the script and that statement, and the consequence
    /// (nothing changed). A tool that could not start or was refused for lack of rights gets its own category.
    /// </summary>
    internal static NwFilterException Failed(string step, ProcessResult result, NftScript? script)
    {
        var error = result.StandardError.Trim();
        var category = result.ExitCode == ProcessResult.NotStartedExitCode ? DiagnosticCategory.ResourceUnavailable
            : error.Contains("Operation not permitted", StringComparison.Ordinal) || error.Contains("must be root", StringComparison.Ordinal)
                ? DiagnosticCategory.PermissionDenied
                : DiagnosticCategory.InvalidOperation;
        var code = result.ExitCode == ProcessResult.NotStartedExitCode ? NftablesCodes.NftUnavailable : NftablesCodes.NftFailed;
        var detail = result.TimedOut ? "it timed out" : $"exit {result.ExitCode}";
        var message = $"{char.ToUpperInvariant(step[0])}{step[1..]} failed ({detail})";
        int? line = null;
        if (NftError().Match(error) is { Success: true } m)
        {
            line = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            message += $": {m.Groups[3].Value.Trim()}";
            if (script is not null && line >= 1 && line <= script.Statements.Length)
            {
                message += $" at line {line}: {script.Statements[line.Value - 1]}";
            }
        }
        else if (error.Length > 0)
        {
            message += ": " + error.Split('\n')[0];
        }
        if (script is not null)
        {
            message += ". Nothing was changed: nft applies the whole transaction or none of it.";
        }
        return new NwFilterException(Diagnostic.Error(code, message, category) with { Source = script is null ? null : "nft script", Line = line });
    }

    /// <summary>The ports that have rules now (from a state read).</summary>
    public static ImmutableArray<string> PortsOf(NftState state) => [.. state.Ports.Keys.Order(StringComparer.Ordinal)];
}
