using System.Collections.Immutable;

namespace NwFilter.Core.Backends;

/// <summary>
/// What a dry run pretends the host holds, to answer query commands: which iptables/ip6tables chains exist (the
/// <c>-L</c> base-chain check) and what each ebtables chain lists. The default is a host with none of libvirt's chains,
/// which is what libvirt's test harness simulates (<c>Chain nothing</c>).
/// </summary>
public sealed record SimulatedHost
{
    /// <summary>A host with no firewall state: every table and chain is empty.</summary>
    public static SimulatedHost Empty { get; } = new();

    /// <summary>Chains that exist in iptables (e.g. <c>libvirt-in</c>).</summary>
    public ImmutableHashSet<string> IptablesChains { get; init; } = [];

    /// <summary>Chains that exist in ip6tables.</summary>
    public ImmutableHashSet<string> Ip6tablesChains { get; init; } = [];

    /// <summary>The rule lines <c>ebtables -t nat -L CHAIN</c> prints, per chain (absent: nothing).</summary>
    public ImmutableDictionary<string, ImmutableArray<string>> EbtablesListings { get; init; } =
        ImmutableDictionary<string, ImmutableArray<string>>.Empty;

    /// <summary>The output of a query command on this host.</summary>
    public IReadOnlyList<string> Output(FirewallCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        switch (command.Program)
        {
            case FirewallCommand.Iptables or FirewallCommand.Ip6tables:
                var chains = command.Program == FirewallCommand.Iptables ? IptablesChains : Ip6tablesChains;
                return chains.IsEmpty ? ["Chain nothing"] : [.. chains.Order(StringComparer.Ordinal).Select(c => $"Chain {c} (0 references)")];
            case FirewallCommand.Ebtables:
                var listed = command.Arguments.IndexOf("-L");
                return listed >= 0 && listed + 1 < command.Arguments.Length &&
                       EbtablesListings.TryGetValue(command.Arguments[listed + 1], out var lines)
                    ? lines
                    : [];
            default:
                return [];
        }
    }
}

/// <summary>
/// Runs a plan without touching the host: records every command in execution order, answering queries from a
/// <see cref="SimulatedHost"/> and appending their follow-ups to the running transaction as libvirt does. This is how
/// the compiler is tested, as libvirt's own test harness does it.
/// </summary>
internal static class DryRunRecorder
{
    /// <summary>Every command the plan would run, in order.</summary>
    public static ImmutableArray<FirewallCommand> Run(FirewallPlan plan, SimulatedHost? host = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        host ??= SimulatedHost.Empty;
        var executed = ImmutableArray.CreateBuilder<FirewallCommand>();
        foreach (var transaction in plan.Transactions)
        {
            var queue = new List<FirewallCommand>(transaction.Commands);
            for (var i = 0; i < queue.Count; i++)
            {
                var command = queue[i];
                executed.Add(command);
                if (command.Query is { } query)
                {
                    queue.AddRange(query.FollowUp(host.Output(command)));
                }
            }
        }
        return executed.ToImmutable();
    }

    /// <summary>The plan as libvirt's dry-run recorder prints it.</summary>
    public static string Record(FirewallPlan plan, SimulatedHost? host = null) => CommandPrinter.Recorded(Run(plan, host));
}
