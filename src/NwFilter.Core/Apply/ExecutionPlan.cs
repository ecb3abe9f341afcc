using System.Collections.Immutable;
using System.Text;
using NwFilter.Core.Host;

namespace NwFilter.Core.Apply;

/// <summary>One transaction an apply or removal runs: a restore file or an nft script, fed to one process.</summary>
/// <param name="Step">What it does: <c>build</c> (new rules under temporary names, inert), <c>swap</c> (old to new in one
/// kernel transaction over every family), <c>teardown</c>.</param>
/// <param name="Program">The program, such as <c>ebtables-restore</c> or <c>nft</c>.</param>
/// <param name="Arguments">Its arguments.</param>
/// <param name="Input">What it reads on standard input.</param>
public sealed record PlannedTransaction(string Step, string Program, ImmutableArray<string> Arguments, string Input)
{
    /// <summary>What it does: <c>build</c> (new rules under temporary names, inert), <c>swap</c> (old to new in one kernel transaction over every family), <c>teardown</c>.</summary>
    public string Step { get; internal init; } = Step;
    /// <summary>The program, such as <c>ebtables-restore</c> or <c>nft</c>.</summary>
    public string Program { get; internal init; } = Program;
    /// <summary>Its arguments.</summary>
    public ImmutableArray<string> Arguments { get; internal init; } = Arguments;
    /// <summary>What it reads on standard input.</summary>
    public string Input { get; internal init; } = Input;

    /// <summary>The transaction as a shell here-document.</summary>
    public override string ToString() =>
        $"# {Step}\n{CommandLine.Format(Program, Arguments)} <<'EOF'\n{Input}{(Input.EndsWith('\n') ? "" : "\n")}EOF\n";
}

/// <summary>
/// What an apply or a removal will do, transaction by transaction: the exact restore files and nft script, read
/// against the firewall as it is now (or, when it cannot be read, against a firewall without NwFilter's chains).
/// </summary>
/// <param name="Transactions">The transactions, in order.</param>
/// <param name="AssumedEmpty">True when the firewall could not be read and an empty one was assumed.</param>
/// <param name="Reason">Why it could not be read, when <paramref name="AssumedEmpty"/>.</param>
public sealed record ExecutionPlan(ImmutableArray<PlannedTransaction> Transactions, bool AssumedEmpty, string? Reason)
{
    /// <summary>The transactions, in order.</summary>
    public ImmutableArray<PlannedTransaction> Transactions { get; internal init; } = Transactions;
    /// <summary>True when the firewall could not be read and an empty one was assumed.</summary>
    public bool AssumedEmpty { get; internal init; } = AssumedEmpty;
    /// <summary>Why it could not be read, when <see cref="AssumedEmpty"/>.</summary>
    public string? Reason { get; internal init; } = Reason;

    /// <summary>One line: per family (bridge, ip, ip6), the chains and rules the transactions add and remove.</summary>
    public string Summary => PlanSummary.Line(Transactions);

    /// <inheritdoc/>
    public override string ToString()
    {
        // First a line to read before the scripts: what the plan adds and removes, per family.
        var text = new StringBuilder("# ").Append(Summary).Append('\n');
        if (AssumedEmpty)
        {
            text.Append("# The firewall could not be read").Append(Reason is null ? "" : $" ({Reason})")
                .Append("; this plan assumes it holds none of NwFilter's chains.\n");
        }
        if (Transactions.IsEmpty)
        {
            text.Append("# Nothing to do.\n");
        }
        foreach (var t in Transactions)
        {
            text.Append(t);
        }
        return text.ToString();
    }
}

/// <summary>What an apply or a removal did: the transactions it ran and how many processes it launched.</summary>
/// <param name="Transactions">The transactions that committed, in order (a failed one is not listed).</param>
/// <param name="ProcessLaunches">Every process launched: reads, transactions, handle listings.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record ExecutionReport(ImmutableArray<PlannedTransaction> Transactions, int ProcessLaunches, TimeSpan Elapsed)
{
    /// <summary>Problems that left the new rules in force (such as a failed rename after the swap).</summary>
    public ImmutableArray<Diagnostics.Diagnostic> Warnings { get; init; } = [];

    /// <summary>The report of an execution that ran nothing.</summary>
    public static ExecutionReport None { get; } = new([], 0, TimeSpan.Zero);

    /// <summary>What <paramref name="a"/> and then <paramref name="b"/> did, as one report.</summary>
    internal static ExecutionReport Merge(ExecutionReport a, ExecutionReport b) =>
        new(a.Transactions.AddRange(b.Transactions), a.ProcessLaunches + b.ProcessLaunches, a.Elapsed + b.Elapsed) { Warnings = a.Warnings.AddRange(b.Warnings) };
}
