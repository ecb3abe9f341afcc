using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>The ebtables/iptables rules of each port as read from the kernel, in save format, for drift comparison.</summary>
internal sealed class XtablesFootprint(KernelState state) : IBackendFootprint
{
    public List<string> Of(string port, out bool present)
    {
        var lines = Lines(state, port);
        present = lines.Any(l => l.Contains(": -A ", StringComparison.Ordinal));
        return lines;
    }

    public IEnumerable<string> Ports() => PortChains.PortsWithChains(state);

    /// <summary>
    /// Everything of one port in the tables, in save format with the family in front: its links from the base chains,
    /// its libvirt-in-post rule, the base chains' hooks it relies on, and its chains with their rules.
    /// </summary>
    internal static List<string> Lines(KernelState state, string port)
    {
        var lines = new List<string>();
        var eb = state.Ebtables;
        var roots = "IOJP".Select(p => ChainNames.EbRoot(p, port)).ToHashSet(StringComparer.Ordinal);
        foreach (var baseChain in new[] { ChainNames.PreRouting, ChainNames.PostRouting })
        {
            lines.AddRange(eb.RulesOf(baseChain).Where(r => r.Target is { } t && roots.Contains(t)).Select(r => $"ebtables: -A {baseChain} {r}"));
        }
        foreach (var chain in PortChains.EbtablesChains(eb, port, "IOJP"))
        {
            lines.Add($"ebtables: :{chain} {eb.Chain(chain)!.Policy}");
            lines.AddRange(eb.RulesOf(chain).Select(r => $"ebtables: -A {chain} {r}"));
        }
        foreach (var family in new[] { XtablesFamily.Iptables, XtablesFamily.Ip6tables })
        {
            var table = state.For(family);
            var tool = RestoreScript.ProgramName(family);
            var own = PortChains.IptablesChains(table, port).ToList();
            var links = new List<string>();
            foreach (var baseChain in new[] { ChainNames.VirtIn, ChainNames.VirtOut, ChainNames.HostIn })
            {
                links.AddRange(table.RulesOf(baseChain).Where(r => r.Target is { } t && own.Contains(t)).Select(r => $"{tool}: -A {baseChain} {r}"));
            }
            links.AddRange(table.RulesOf(ChainNames.VirtInPost).Where(r => PortChains.IsInPostRule(r, port)).Select(r => $"{tool}: -A {ChainNames.VirtInPost} {r}"));
            if (links.Count > 0 || own.Count > 0)
            {
                foreach (var (chain, parent, _) in ChainNames.BaseChains)
                {
                    lines.AddRange(table.RulesOf(parent).Where(r => r.Target == chain).Select(r => $"{tool}: -A {parent} {r}"));
                }
            }
            lines.AddRange(links);
            foreach (var chain in own)
            {
                lines.Add($"{tool}: :{chain}");
                lines.AddRange(table.RulesOf(chain).Select(r => $"{tool}: -A {chain} {r}"));
            }
        }
        return lines;
    }
}
