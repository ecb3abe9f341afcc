using NwFilter.Core.Backends.EbIpTables;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// Which chains and rules of the modelled tables belong to a port: its ebtables root chains and the sub-chains they
/// reach, its iptables chains (FI/FO/HI final, FJ/FP/HJ temporary), and the links to them.
/// </summary>
internal static class PortChains
{
    /// <summary>The (base chain, final chain, temporary chain) triples of the iptables layout.</summary>
    public static (string Base, string Final, string Temp)[] IptablesTriples(string port) =>
    [
        (ChainNames.VirtIn, ChainNames.Ipt('F', ChainNames.In, port), ChainNames.Ipt('F', ChainNames.InTemp, port)),
        (ChainNames.VirtOut, ChainNames.Ipt('F', ChainNames.Out, port), ChainNames.Ipt('F', ChainNames.OutTemp, port)),
        (ChainNames.HostIn, ChainNames.Ipt('H', ChainNames.In, port), ChainNames.Ipt('H', ChainNames.InTemp, port)),
    ];

    /// <summary>The ebtables root chains of the port for the given prefixes (<c>"IO"</c> final, <c>"JP"</c> temporary)
    /// that exist, and every <c>{prefix}-…</c> chain they reach, roots first.</summary>
    public static IEnumerable<string> EbtablesChains(XtablesTable table, string port, string prefixes)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        foreach (var p in prefixes)
        {
            var root = ChainNames.EbRoot(p, port);
            if (table.HasChain(root) && seen.Add(root))
            {
                queue.Enqueue(root);
            }
        }
        while (queue.Count > 0)
        {
            var chain = queue.Dequeue();
            yield return chain;
            foreach (var rule in table.RulesOf(chain))
            {
                if (rule.Target is { Length: > 2 } t && t[1] == '-' && prefixes.Contains(t[0], StringComparison.Ordinal) && table.HasChain(t) && seen.Add(t))
                {
                    queue.Enqueue(t);
                }
            }
        }
    }

    /// <summary>True for a name of the form <c>{prefix}-{port}-{suffix}</c>.</summary>
    public static bool IsEbSubChainOf(string chain, string port, string prefixes) =>
        chain.Length > port.Length + 3 && chain[1] == '-' && prefixes.Contains(chain[0], StringComparison.Ordinal) &&
        chain.AsSpan(2).StartsWith(port) && chain[2 + port.Length] == '-';

    /// <summary>The iptables/ip6tables chains of the port that exist (final and temporary).</summary>
    public static IEnumerable<string> IptablesChains(XtablesTable table, string port) =>
        IptablesTriples(port).SelectMany(t => new[] { t.Final, t.Temp }).Where(table.HasChain);

    /// <summary>The port's rule in <c>libvirt-in-post</c> (<c>-m physdev --physdev-in IF -j ACCEPT</c>)?</summary>
    public static bool IsInPostRule(XtablesRule rule, string port) =>
        rule.Target == "ACCEPT" && rule.Has("--physdev-in", port);

    /// <summary>Ports that have NwFilter chains in the tables, found by the chain names (for orphan detection).</summary>
    public static IEnumerable<string> PortsWithChains(KernelState state)
    {
        var ports = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var chain in state.Ebtables.Chains)
        {
            if (chain.Name.StartsWith("libvirt-", StringComparison.Ordinal) && chain.Name.Length > 10 && chain.Name[9] == '-' && "IOJP".Contains(chain.Name[8], StringComparison.Ordinal))
            {
                ports.Add(chain.Name[10..]);
            }
        }
        foreach (var table in new[] { state.Iptables, state.Ip6tables })
        {
            foreach (var chain in table.Chains)
            {
                if (chain.Name.Length > 3 && chain.Name[2] == '-' && chain.Name[0] is 'F' or 'H' && "IOJP".Contains(chain.Name[1], StringComparison.Ordinal))
                {
                    ports.Add(chain.Name[3..]);
                }
            }
        }
        return ports;
    }
}
