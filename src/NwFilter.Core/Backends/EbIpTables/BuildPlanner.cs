using NwFilter.Core.Apply;
using System.Collections.Immutable;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>A link from an ebtables base chain to a port's new root chain, made by the swap (not the build).</summary>
/// <param name="Port">The port device.</param>
/// <param name="Incoming">True for <c>PREROUTING -i</c> (from the VM), false for <c>POSTROUTING -o</c>.</param>
/// <param name="Target">The temporary root chain (<c>libvirt-J-IF</c> or <c>libvirt-P-IF</c>).</param>
internal sealed record EbLink(string Port, bool Incoming, string Target)
{
    public string BaseChain => Incoming ? ChainNames.PreRouting : ChainNames.PostRouting;
}

/// <summary>
/// The build step of an apply: every port's new rules under temporary chain names, one list of commands per family,
/// each applied as ONE restore transaction. Nothing in it changes what a packet sees (see <see cref="BuildPlanner"/>).
/// </summary>
internal sealed class BuildPlan
{
    public required KernelState Before { get; init; }
    public required KernelState After { get; init; }
    public required ImmutableDictionary<XtablesFamily, ImmutableArray<FirewallCommand>> Commands { get; init; }
    public required ImmutableArray<EbLink> Links { get; init; }
    public required ImmutableArray<string> Ports { get; init; }

    public IEnumerable<FirewallCommand> CommandsOf(XtablesFamily family) =>
        Commands.TryGetValue(family, out var list) ? list : [];

    /// <summary>The restore text of one family's build transaction, or null when the family has nothing to build.</summary>
    public RestoreBatch? Batch(XtablesFamily family) =>
        Commands.TryGetValue(family, out var list) && list.Length > 0
            ? RestoreScript.Translate(list.Select(c => (c.Program, (IReadOnlyList<string>)c.Arguments))).For(family)
            : null;
}

/// <summary>
/// Turns the compiler's <c>ApplyNewRules</c> plans into build transactions, by running them against a model of the
/// kernel's tables instead of the kernel:
/// <list type="bullet">
/// <item>queries (<c>ebtables -L</c>, <c>iptables -L</c>) are answered from the model, so their follow-ups are exactly
/// libvirt's for this host;</item>
/// <item>a command whose errors libvirt ignores goes in only when the model says it succeeds (a restore transaction
/// is all-or-nothing: one failing cleanup line would discard it);</item>
/// <item>the ebtables links of the new root chains are held back for the swap (<see cref="EbLink"/>);</item>
/// <item>an iptables link to a new (temporary) chain is shadowed: when the port has no link to a final chain yet, an
/// empty final chain with its link is created first (a placeholder). A <c>-g</c> jumps away for good, so the later
/// link to the temporary chain is never reached until the swap removes the placeholder's link.</item>
/// </list>
/// </summary>
internal static class BuildPlanner
{
    public static BuildPlan Plan(KernelState state, IReadOnlyList<(string Port, FirewallPlan Plan)> ports)
    {
        var model = state.Clone();
        var commands = KernelState.Families.ToDictionary(f => f, _ => new List<FirewallCommand>());
        var links = new List<EbLink>();
        foreach (var (port, plan) in ports)
        {
            Interpret(port, plan, model, commands, links);
            SweepOrphanTemporaries(port, model, commands[XtablesFamily.Ebtables]);
        }
        // ebtables-nft creates a built-in chain only when it is first used; the swap's nft script adds the links, so
        // the build makes sure the chains exist (-P with the policy they already have changes nothing else).
        foreach (var baseChain in links.Select(l => l.BaseChain).Distinct())
        {
            var policy = model.Ebtables.Chain(baseChain)?.Policy ?? "ACCEPT";
            commands[XtablesFamily.Ebtables].Add(Commands.Eb(false, "-P", baseChain, policy));
        }
        return new BuildPlan
        {
            Before = state,
            After = model,
            Commands = commands.Where(p => p.Value.Count > 0).ToImmutableDictionary(p => p.Key, p => p.Value.ToImmutableArray()),
            Links = [.. links],
            Ports = [.. ports.Select(p => p.Port)],
        };
    }

    private static void Interpret(string port, FirewallPlan plan, KernelState model, Dictionary<XtablesFamily, List<FirewallCommand>> output, List<EbLink> links)
    {
        foreach (var transaction in plan.Transactions)
        {
            var queue = new List<FirewallCommand>(transaction.Commands);
            for (var i = 0; i < queue.Count; i++)
            {
                var command = queue[i];
                if (command.Query is { } query)
                {
                    queue.AddRange(query.FollowUp(Answer(command, model)));
                    continue;
                }
                if (!RestoreScript.TryTranslate(command.Program, command.Arguments, out var family, out _, out var line, out var reason))
                {
                    throw new InvalidOperationException($"The plan for {port} holds a command a restore file cannot carry ({reason}): {command}");
                }
                var words = RuleWords.Split(line);
                var table = model.For(family);
                if (IsEbRootLink(family, words, port, out var link))
                {
                    links.Add(link);
                    continue;
                }
                if (command.IgnoreErrors || transaction.IgnoreErrors)
                {
                    if (table.Check(words) is not null)
                    {
                        continue; // it would fail and libvirt ignores that: leave it out of the transaction
                    }
                }
                else if (family != XtablesFamily.Ebtables)
                {
                    Shadow(port, command, words, table, output[family]);
                }
                if (table.Apply(words) is { } failure)
                {
                    throw new NwFilterException(Diagnostic.Error(ApplyCodes.FirewallChangedConcurrently,
                        $"Cannot apply the rules of {port}: '{command}' would fail ({failure}). The firewall holds chains NwFilter did not expect; " +
                        "Remove-NwFilterBinding or Restore-NwFilterBinding cleans them up.", DiagnosticCategory.InvalidOperation));
                }
                output[family].Add(command);
            }
        }
    }

    /// <summary>The output a query would print on the modelled host.</summary>
    private static IReadOnlyList<string> Answer(FirewallCommand command, KernelState model)
    {
        if (command.Program == FirewallCommand.Ebtables)
        {
            var listed = command.Arguments.IndexOf("-L");
            return listed >= 0 && listed + 1 < command.Arguments.Length
                ? [.. model.Ebtables.RulesOf(command.Arguments[listed + 1]).Select(r => r.ToString())]
                : [];
        }
        var table = command.Program == FirewallCommand.Iptables ? model.Iptables : model.Ip6tables;
        return [.. table.Chains.Select(c => $"Chain {c.Name} ({(c.BuiltIn ? "policy " + c.Policy : "0 references")})")];
    }

    private static bool IsEbRootLink(XtablesFamily family, List<string> words, string port, out EbLink link)
    {
        link = null!;
        if (family != XtablesFamily.Ebtables || words.Count != 6 || words[0] != "-A")
        {
            return false;
        }
        var incoming = words[1] == ChainNames.PreRouting && words[2] == "-i";
        var outgoing = words[1] == ChainNames.PostRouting && words[2] == "-o";
        if (!(incoming || outgoing) || words[3] != port || words[4] != "-j")
        {
            return false;
        }
        link = new EbLink(port, incoming, words[5]);
        return true;
    }

    /// <summary>
    /// Before a link to a temporary iptables chain (<c>-A libvirt-in ... -g FJ-IF</c>), makes sure a link to the final
    /// chain precedes it, creating an empty final chain (and dropping an unlinked one) when there is none.
    /// </summary>
    private static void Shadow(string port, FirewallCommand command, List<string> words, XtablesTable table, List<FirewallCommand> output)
    {
        if (words.Count < 3 || words[0] != "-A" || words[1] is not (ChainNames.VirtIn or ChainNames.VirtOut or ChainNames.HostIn))
        {
            return;
        }
        var rule = new XtablesRule([.. words.Skip(2)]);
        if (!rule.IsGoto || rule.Target is not { Length: > 3 } temp || !temp.EndsWith("-" + port, StringComparison.Ordinal) || temp[1] is not ('J' or 'P'))
        {
            return;
        }
        var final = temp[0] + (temp[1] == 'J' ? "I" : "O") + temp[2..];
        if (table.RulesOf(words[1]).Any(r => r.Target == final))
        {
            return;
        }
        var program = command.Program;
        var extra = new List<FirewallCommand>();
        if (table.HasChain(final))
        {
            extra.Add(Commands.Ipt(program, false, "-F", final));
            extra.Add(Commands.Ipt(program, false, "-X", final));
        }
        extra.Add(Commands.Ipt(program, false, "-N", final));
        extra.Add(Commands.Ipt(program, false, ["-A", words[1], .. rule.WithTarget(final).Words]));
        foreach (var c in extra)
        {
            RestoreScript.TryTranslate(c.Program, c.Arguments, out _, out _, out var line, out _);
            if (table.Apply(RuleWords.Split(line)) is { } failure)
            {
                throw new InvalidOperationException($"placeholder for {final}: {failure}");
            }
            output.Add(c);
        }
    }

    /// <summary>Temporary ebtables sub-chains of the port left by a killed run that no root chain reaches any more.</summary>
    private static void SweepOrphanTemporaries(string port, KernelState model, List<FirewallCommand> output)
    {
        var table = model.Ebtables;
        var reachable = PortChains.EbtablesChains(table, port, "JP").ToHashSet(StringComparer.Ordinal);
        var orphans = table.Chains.Where(c => !c.BuiltIn && PortChains.IsEbSubChainOf(c.Name, port, "JP") && !reachable.Contains(c.Name) && !table.IsReferenced(c.Name))
            .Select(c => c.Name).ToList();
        foreach (var chain in orphans)
        {
            foreach (var c in new[] { Commands.Eb(false, "-F", chain), Commands.Eb(false, "-X", chain) })
            {
                RestoreScript.TryTranslate(c.Program, c.Arguments, out _, out _, out var line, out _);
                table.Apply(RuleWords.Split(line));
                output.Add(c);
            }
        }
    }

    /// <summary>
    /// What undoes a committed build of one family: the rules it added to chains that existed are deleted, the chains
    /// it created are flushed and deleted. What it removed was leftover garbage (or deleted and re-added in the same
    /// transaction, like the <c>libvirt-in-post</c> rule) and is not put back. Null when there is nothing to undo.
    /// </summary>
    public static RestoreBatch? Rollback(BuildPlan build, XtablesFamily family)
    {
        var before = build.Before.For(family);
        var after = build.After.For(family);
        var program = RestoreScript.ProgramName(family);
        var lines = new List<(string Program, IReadOnlyList<string> Arguments)>();
        var created = after.Chains.Where(c => !before.HasChain(c.Name)).Select(c => c.Name).ToList();
        foreach (var chain in after.Chains.Where(c => before.HasChain(c.Name)))
        {
            var old = before.RulesOf(chain.Name).GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Count());
            foreach (var rule in chain.Rules)
            {
                if (old.TryGetValue(rule.Key, out var n) && n > 0)
                {
                    old[rule.Key] = n - 1;
                    continue;
                }
                lines.Add((program, ["-D", chain.Name, .. rule.Words]));
            }
        }
        lines.AddRange(created.Select(c => (program, (IReadOnlyList<string>)["-F", c])));
        lines.AddRange(created.Select(c => (program, (IReadOnlyList<string>)["-X", c])));
        if (lines.Count == 0)
        {
            return null;
        }
        var table = XtablesTable.TableOf(family);
        return RestoreScript.Translate(lines.Select(l => (l.Program, (IReadOnlyList<string>)["-t", table, .. l.Arguments]))).For(family);
    }
}
