using System.Collections.Immutable;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// Plans the one-transaction swap after a build (libvirt's tearOldRules, for all ports at once) and the teardown of
/// ports (libvirt's allTeardown), from the modelled tables.
/// </summary>
internal static class SwapPlanner
{
    /// <summary>
    /// The swap: per port, unlink and delete the old final chains and link the new ebtables roots (the iptables links
    /// made by the build become live as the placeholders' links go). Then, as a second transaction, every temporary
    /// chain is renamed to its final name (jumps follow renames): the kernel checks each rename against every pending
    /// change of its transaction, so renames next to thousands of flushed rules cost seconds, and alone milliseconds.
    /// Between the two the new rules are in force under their temporary names.
    /// </summary>
    public static (SwapPlan Swap, SwapPlan Rename) Swap(BuildPlan build)
    {
        var all = SwapAndRename(build);
        return (new SwapPlan(build.After, [.. all.Where(o => o is not RenameChainOp)]), new SwapPlan(build.After, [.. all.OfType<RenameChainOp>()]));
    }

    /// <summary>
    /// Finishes swaps whose rename transaction never ran (a killed run): a port whose temporary chains are linked while
    /// no final chain exists gets them renamed, so the next build does not take them for leftovers.
    /// </summary>
    public static SwapPlan Repair(KernelState state)
    {
        var ops = new List<SwapOp>();
        foreach (var port in PortChains.PortsWithChains(state))
        {
            var eb = state.Ebtables;
            var linked = eb.RulesOf(ChainNames.PreRouting).Concat(eb.RulesOf(ChainNames.PostRouting))
                .Any(r => r.Target == ChainNames.EbRoot(ChainNames.InTemp, port) || r.Target == ChainNames.EbRoot(ChainNames.OutTemp, port));
            if (linked && !eb.HasChain(ChainNames.EbRoot(ChainNames.In, port)) && !eb.HasChain(ChainNames.EbRoot(ChainNames.Out, port)))
            {
                ops.AddRange(PortChains.EbtablesChains(eb, port, "JP").Where(c => !eb.HasChain(FinalName(c))).Select(c => new RenameChainOp(XtablesFamily.Ebtables, c, FinalName(c))));
            }
            foreach (var family in new[] { XtablesFamily.Iptables, XtablesFamily.Ip6tables })
            {
                var table = state.For(family);
                foreach (var (baseChain, final, temp) in PortChains.IptablesTriples(port))
                {
                    if (table.HasChain(temp) && !table.HasChain(final) && table.RulesOf(baseChain).Any(r => r.Target == temp))
                    {
                        ops.Add(new RenameChainOp(family, temp, final));
                    }
                }
            }
        }
        return new SwapPlan(state, [.. ops]);
    }

    private static List<SwapOp> SwapAndRename(BuildPlan build)
    {
        var state = build.After;
        var ops = new List<SwapOp>();
        foreach (var port in build.Ports)
        {
            var eb = state.Ebtables;
            var newChains = PortChains.EbtablesChains(eb, port, "JP").ToList();
            var oldChains = WithUnreachable(eb, port, "IO", PortChains.EbtablesChains(eb, port, "IO").ToList());
            ops.AddRange(DeleteRules(XtablesFamily.Ebtables, eb, ChainNames.PreRouting, r => r.Target == ChainNames.EbRoot(ChainNames.In, port)));
            ops.AddRange(DeleteRules(XtablesFamily.Ebtables, eb, ChainNames.PostRouting, r => r.Target == ChainNames.EbRoot(ChainNames.Out, port)));
            ops.AddRange(build.Links.Where(l => l.Port == port && eb.HasChain(l.Target)).Select(l => new AddLinkOp(l)));
            ops.AddRange(oldChains.Select(c => new FlushChainOp(XtablesFamily.Ebtables, c)));
            ops.AddRange(oldChains.Select(c => new DeleteChainOp(XtablesFamily.Ebtables, c)));
            ops.AddRange(newChains.Select(c => new RenameChainOp(XtablesFamily.Ebtables, c, FinalName(c))));

            foreach (var family in new[] { XtablesFamily.Iptables, XtablesFamily.Ip6tables })
            {
                var table = state.For(family);
                foreach (var (baseChain, final, temp) in PortChains.IptablesTriples(port))
                {
                    if (table.HasChain(final))
                    {
                        ops.AddRange(DeleteRules(family, table, baseChain, r => r.Target == final));
                        ops.Add(new FlushChainOp(family, final));
                        ops.Add(new DeleteChainOp(family, final));
                    }
                    if (table.HasChain(temp))
                    {
                        ops.Add(new RenameChainOp(family, temp, final));
                    }
                }
                // No rules of this family any more: its libvirt-in-post ACCEPT goes too (libvirt leaves it, so that the
                // port's forwarded traffic is still accepted there; a fresh apply of the new filter would not have it).
                if (!PortChains.IptablesTriples(port).Any(t => table.HasChain(t.Temp)))
                {
                    ops.AddRange(DeleteRules(family, table, ChainNames.VirtInPost, r => PortChains.IsInPostRule(r, port)));
                }
            }
        }
        return ops;
    }

    /// <summary>
    /// The teardown of <paramref name="ports"/>: their links, their <c>libvirt-in-post</c> rule and all their chains,
    /// final and temporary. With <paramref name="removeBaseChains"/>, the global <c>libvirt-in/-out/-in-post/-host-in</c>
    /// chains go too when nothing else is left in them (the last binding was removed).
    /// </summary>
    public static SwapPlan Teardown(KernelState state, IReadOnlyCollection<string> ports, bool removeBaseChains)
    {
        var ops = new List<SwapOp>();
        var eb = state.Ebtables;
        foreach (var port in ports)
        {
            var roots = "IOJP".Select(p => ChainNames.EbRoot(p, port)).ToHashSet(StringComparer.Ordinal);
            ops.AddRange(DeleteRules(XtablesFamily.Ebtables, eb, ChainNames.PreRouting, r => r.Target is { } t && roots.Contains(t)));
            ops.AddRange(DeleteRules(XtablesFamily.Ebtables, eb, ChainNames.PostRouting, r => r.Target is { } t && roots.Contains(t)));
            var chains = WithUnreachable(eb, port, "IOJP", PortChains.EbtablesChains(eb, port, "IOJP").ToList());
            ops.AddRange(chains.Select(c => new FlushChainOp(XtablesFamily.Ebtables, c)));
            ops.AddRange(chains.Select(c => new DeleteChainOp(XtablesFamily.Ebtables, c)));

            foreach (var family in new[] { XtablesFamily.Iptables, XtablesFamily.Ip6tables })
            {
                var table = state.For(family);
                var own = PortChains.IptablesChains(table, port).ToHashSet(StringComparer.Ordinal);
                foreach (var baseChain in new[] { ChainNames.VirtIn, ChainNames.VirtOut, ChainNames.HostIn })
                {
                    ops.AddRange(DeleteRules(family, table, baseChain, r => r.Target is { } t && own.Contains(t)));
                }
                ops.AddRange(DeleteRules(family, table, ChainNames.VirtInPost, r => PortChains.IsInPostRule(r, port)));
                ops.AddRange(own.Select(c => new FlushChainOp(family, c)));
                ops.AddRange(own.Select(c => new DeleteChainOp(family, c)));
            }
        }
        if (removeBaseChains)
        {
            foreach (var family in new[] { XtablesFamily.Iptables, XtablesFamily.Ip6tables })
            {
                ops.AddRange(RemoveEmptyBaseChains(family, state.For(family), ops));
            }
        }
        return new SwapPlan(state, [.. Deduplicate(ops)]);
    }

    /// <summary>
    /// Adds the port's sub-chains of the given prefixes that no root reaches any more (a flushed root chain, a killed
    /// run), unless a chain outside the set still jumps to them: they would block the new chains' names.
    /// </summary>
    private static List<string> WithUnreachable(XtablesTable eb, string port, string prefixes, List<string> reached)
    {
        var set = reached.ToHashSet(StringComparer.Ordinal);
        foreach (var chain in eb.Chains.Select(c => c.Name).Where(c => !set.Contains(c) && PortChains.IsEbSubChainOf(c, port, prefixes)).ToList())
        {
            if (!eb.Chains.Any(o => !set.Contains(o.Name) && o.Name != chain && PortChains.IsEbSubChainOf(o.Name, port, prefixes) == false && o.Rules.Any(r => r.Target == chain)))
            {
                set.Add(chain);
                reached.Add(chain);
            }
        }
        return reached;
    }

    private static IEnumerable<SwapOp> RemoveEmptyBaseChains(XtablesFamily family, XtablesTable table, List<SwapOp> planned)
    {
        var result = new List<SwapOp>();
        foreach (var (chain, parent, _) in ChainNames.BaseChains)
        {
            if (!table.HasChain(chain))
            {
                continue;
            }
            var deleted = planned.OfType<DeleteRuleOp>().Where(d => d.Family == family && d.Chain == chain).Select(d => d.Index).Distinct().Count();
            if (deleted != table.RulesOf(chain).Count)
            {
                continue; // something else (another port, another program) still uses it
            }
            result.AddRange(DeleteRules(family, table, parent, r => r.Target == chain));
            result.Add(new DeleteChainOp(family, chain));
        }
        return result;
    }

    private static IEnumerable<SwapOp> DeleteRules(XtablesFamily family, XtablesTable table, string chain, Func<XtablesRule, bool> match)
    {
        var rules = table.RulesOf(chain);
        for (var i = 0; i < rules.Count; i++)
        {
            if (match(rules[i]))
            {
                yield return new DeleteRuleOp(family, chain, i, rules[i]);
            }
        }
    }

    private static IEnumerable<SwapOp> Deduplicate(List<SwapOp> ops)
    {
        var seen = new HashSet<SwapOp>();
        return ops.Where(seen.Add);
    }

    /// <summary>The final name of a temporary ebtables chain: <c>libvirt-J-IF</c> to <c>libvirt-I-IF</c>, <c>P-IF-arp</c> to <c>O-IF-arp</c>.</summary>
    public static string FinalName(string temporary)
    {
        static char Final(char c) => c == ChainNames.InTemp ? ChainNames.In : c == ChainNames.OutTemp ? ChainNames.Out : c;
        return temporary.StartsWith("libvirt-", StringComparison.Ordinal)
            ? string.Concat("libvirt-", Final(temporary[8]).ToString(), temporary[9..])
            : Final(temporary[0]) + temporary[1..];
    }
}
