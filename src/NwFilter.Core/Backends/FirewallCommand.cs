using System.Collections.Immutable;

namespace NwFilter.Core.Backends;

/// <summary>
/// One command a backend runs: a firewall program and its exact arguments (argv[1..]), never passed through a shell.
/// </summary>
/// <param name="Program">The program: <c>ebtables</c>, <c>iptables</c>, <c>ip6tables</c> (<c>nft</c> later).</param>
/// <param name="Arguments">The arguments, exactly as passed.</param>
public sealed record FirewallCommand(string Program, ImmutableArray<string> Arguments)
{
    /// <summary>The program: <c>ebtables</c>, <c>iptables</c>, <c>ip6tables</c> (<c>nft</c> later).</summary>
    public string Program { get; internal init; } = Program;
    /// <summary>The arguments, exactly as passed.</summary>
    public ImmutableArray<string> Arguments { get; internal init; } = Arguments;

    /// <summary>The program name <c>ebtables</c>.</summary>
    public const string Ebtables = "ebtables";
    /// <summary>The program name <c>iptables</c>.</summary>
    public const string Iptables = "iptables";
    /// <summary>The program name <c>ip6tables</c>.</summary>
    public const string Ip6tables = "ip6tables";

    /// <summary>True when a failure of this command is ignored (libvirt's cleanup steps).</summary>
    public bool IgnoreErrors { get; internal init; }

    /// <summary>
    /// When set, the command is a query: its output decides further commands, which are appended to the end of the
    /// running transaction (libvirt's query callbacks).
    /// </summary>
    public FirewallQuery? Query { get; internal init; }

    /// <summary>
    /// The rule instance this command's rule came from, or null for the chain plumbing around the rules. The xtables
    /// text must stay byte-exact with libvirt's, so provenance rides here, beside the text (a side table per command),
    /// and is no part of the command's equality. docs/design/applying.md: provenance.
    /// </summary>
    public Lowering.RuleOrigin? Origin { get; internal init; }

    /// <inheritdoc/>
    public bool Equals(FirewallCommand? other) =>
        other is not null && Program == other.Program && Arguments.SequenceEqual(other.Arguments) &&
        IgnoreErrors == other.IgnoreErrors && Equals(Query, other.Query);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Program);
        foreach (var a in Arguments)
        {
            hash.Add(a);
        }
        return hash.ToHashCode();
    }

    /// <summary>The command as one shell line, arguments quoted where a shell needs it.</summary>
    public override string ToString() => CommandPrinter.ShellLine(this);
}

/// <summary>
/// A query command's follow-up: given the command's output lines, the commands to append to the running transaction.
/// Pure; the executor (live or dry-run) supplies the output.
/// </summary>
public abstract record FirewallQuery
{
    /// <summary>The commands to run next, given the query's output lines.</summary>
    public abstract IEnumerable<FirewallCommand> FollowUp(IReadOnlyList<string> output);
}

/// <summary>
/// A group of commands applied together (libvirt's firewall transaction). When a command fails and neither it nor the
/// transaction ignores errors, the <see cref="Rollback"/> commands run and the plan stops.
/// </summary>
/// <param name="Commands">The commands, in order (queries may append more at the end when run).</param>
public sealed record FirewallTransaction(ImmutableArray<FirewallCommand> Commands)
{
    /// <summary>The commands, in order (queries may append more at the end when run).</summary>
    public ImmutableArray<FirewallCommand> Commands { get; internal init; } = Commands;

    /// <summary>True when every failure in the transaction is ignored.</summary>
    public bool IgnoreErrors { get; internal init; }

    /// <summary>What undoes a partly applied transaction (errors ignored).</summary>
    public ImmutableArray<FirewallCommand> Rollback { get; internal init; } = [];

    /// <inheritdoc/>
    public bool Equals(FirewallTransaction? other) =>
        other is not null && IgnoreErrors == other.IgnoreErrors && Commands.SequenceEqual(other.Commands) && Rollback.SequenceEqual(other.Rollback);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(IgnoreErrors, Commands.Length, Rollback.Length);
}

/// <summary>A backend's plan for one operation on one interface: transactions applied in order.</summary>
/// <param name="Backend">The backend that made it.</param>
/// <param name="Operation">What it does (<c>ApplyNewRules</c>, <c>TearOldRules</c>, ...).</param>
/// <param name="PortDevice">The interface.</param>
/// <param name="Transactions">The transactions, in order.</param>
public sealed record FirewallPlan(string Backend, string Operation, string PortDevice, ImmutableArray<FirewallTransaction> Transactions)
{
    /// <summary>The backend that made it.</summary>
    public string Backend { get; internal init; } = Backend;
    /// <summary>What it does (<c>ApplyNewRules</c>, <c>TearOldRules</c>, ...).</summary>
    public string Operation { get; internal init; } = Operation;
    /// <summary>The interface.</summary>
    public string PortDevice { get; internal init; } = PortDevice;
    /// <summary>The transactions, in order.</summary>
    public ImmutableArray<FirewallTransaction> Transactions { get; internal init; } = Transactions;

    /// <summary>The commands as planned (without query follow-ups), in order.</summary>
    public IEnumerable<FirewallCommand> PlannedCommands => Transactions.SelectMany(t => t.Commands);

    /// <inheritdoc/>
    public bool Equals(FirewallPlan? other) =>
        other is not null && Backend == other.Backend && Operation == other.Operation && PortDevice == other.PortDevice &&
        Transactions.SequenceEqual(other.Transactions);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Backend, Operation, PortDevice, Transactions.Length);
}
