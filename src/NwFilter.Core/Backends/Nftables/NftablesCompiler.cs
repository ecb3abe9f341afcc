using System.Collections.Immutable;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// Compiles one port's resolved rule instances into its nftables chains (pure). The order is libvirt's: the instances
/// arrive sorted (root chain first, then by rule priority, stable); Ethernet rules go to the bridge chains I (from the
/// VM) and O (to the VM) or their sub-chains, each sub-chain jumped to from its root chain just before the first rule
/// whose effective priority reaches the sub-chain's priority (SEMANTICS.md 6.3); layer-4 rules go to FI, FO and HI.
/// </summary>
public static class NftablesCompiler
{
    /// <summary>The sub-chain prefixes in libvirt's order, with the match of the jump into them.</summary>
    private static readonly (string Prefix, string Match)[] SubChainProtocols =
    [
        ("ipv4", "ether type ip"), ("ipv6", "ether type ip6"), ("arp", "ether type arp"), ("rarp", "ether type 0x8035"),
        ("mac", ""), ("vlan", "ether type vlan"), ("stp", "ether daddr " + ChainNames.StpGroupAddress),
    ];

    /// <summary>
    /// Compiles the port's instances. Throws <see cref="Diagnostics.NwFilterException"/> for what nft cannot express
    /// (ipsets, gratuitous ARP tests, comments with a double quote); see <see cref="NftablesCodes"/>.
    /// </summary>
    public static NftPortRuleset Compile(string portDevice, IReadOnlyList<RuleInstance> instances)
    {
        ChainNames.ValidatePortDevice(portDevice);
        ArgumentNullException.ThrowIfNull(instances);

        var rules = new Dictionary<string, List<NftRule>>(StringComparer.Ordinal);
        var order = new List<(NftFamily Family, string Role)>();
        List<NftRule> ChainOf(NftFamily family, string role)
        {
            if (!rules.TryGetValue(role, out var list))
            {
                rules[role] = list = [];
                order.Add((family, role));
            }
            return list;
        }

        // The sub-chains each direction needs, with their priorities, ordered as libvirt creates them.
        var fromChains = new Dictionary<string, int>(StringComparer.Ordinal);
        var toChains = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var instance in instances.Where(i => i.Layer == ProtocolLayer.Ethernet))
        {
            if (instance.Rule.Direction is RuleDirection.Out or RuleDirection.InOut)
            {
                fromChains[instance.ChainSuffix] = instance.ChainPriority;
            }
            if (instance.Rule.Direction is RuleDirection.In or RuleDirection.InOut)
            {
                toChains[instance.ChainSuffix] = instance.ChainPriority;
            }
        }
        if (fromChains.Count > 0)
        {
            ChainOf(NftFamily.Bridge, NftPortRuleset.FromVm);
        }
        if (toChains.Count > 0)
        {
            ChainOf(NftFamily.Bridge, NftPortRuleset.ToVm);
        }
        // Stable: at equal priority, from-VM chains precede to-VM chains, each by name (libvirt: hash order).
        var subChains = SubChains(fromChains, NftPortRuleset.FromVm).Concat(SubChains(toChains, NftPortRuleset.ToVm))
            .OrderBy(s => s.Priority).ToList();

        var next = 0;
        void Link(SubChain sub)
        {
            ChainOf(NftFamily.Bridge, sub.Role);
            ChainOf(NftFamily.Bridge, sub.Root).Add(new NftRule(sub.Match, NftVerdict.JumpTo(sub.Role)));
        }

        foreach (var instance in instances)
        {
            var rule = instance.Rule;
            if (instance.Layer != ProtocolLayer.Ethernet)
            {
                foreach (var copy in NftInetRuleText.Build(rule))
                {
                    ChainOf(NftFamily.Inet, copy.Role).Add(copy.Rule);
                }
                continue;
            }
            while (next < subChains.Count && subChains[next].Priority <= instance.EffectivePriority)
            {
                Link(subChains[next++]);
            }
            if (rule.Direction is RuleDirection.Out or RuleDirection.InOut)
            {
                ChainOf(NftFamily.Bridge, Role(NftPortRuleset.FromVm, instance.ChainSuffix))
                    .AddRange(NftBridgeRuleText.Build(rule, reverse: rule.Direction == RuleDirection.InOut));
            }
            if (rule.Direction is RuleDirection.In or RuleDirection.InOut)
            {
                ChainOf(NftFamily.Bridge, Role(NftPortRuleset.ToVm, instance.ChainSuffix)).AddRange(NftBridgeRuleText.Build(rule, reverse: false));
            }
        }
        while (next < subChains.Count)
        {
            Link(subChains[next++]);
        }

        // libvirt creates FJ, FP and HJ together whenever a family has rules; an empty one is a no-op jump.
        if (order.Any(c => c.Family == NftFamily.Inet))
        {
            ChainOf(NftFamily.Inet, NftPortRuleset.ForwardFromVm);
            ChainOf(NftFamily.Inet, NftPortRuleset.ForwardToVm);
            ChainOf(NftFamily.Inet, NftPortRuleset.HostFromVm);
        }

        var chains = order
            .OrderBy(c => c.Family)
            .ThenBy(c => RootRank(c.Role))
            .Select(c => new NftChain(c.Family, c.Role, [.. rules[c.Role]]))
            .ToImmutableArray();
        return new NftPortRuleset(portDevice, chains);
    }

    /// <summary>Compiles a resolution (which must be resolved, not waiting for IP learning).</summary>
    public static NftPortRuleset Compile(string portDevice, Resolution.Resolution resolution)
    {
        ArgumentNullException.ThrowIfNull(resolution);
        if (resolution.Status != ResolutionStatus.Resolved)
        {
            throw new ArgumentException("The resolution is waiting for IP learning; there is nothing to compile yet.", nameof(resolution));
        }
        return Compile(portDevice, resolution.Instances);
    }

    private sealed record SubChain(string Root, string Suffix, int Priority, string Match)
    {
        public string Role => NftNames.SubChainRole(Root, Suffix);
    }

    private static string Role(string root, string suffix) =>
        suffix == FilterDefinition.RootChain ? root : NftNames.SubChainRole(root, suffix);

    private static IEnumerable<SubChain> SubChains(Dictionary<string, int> chains, string root) =>
        chains.OrderBy(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal)
              .Select(c => (c, protocol: Array.FindIndex(SubChainProtocols, p => c.Key.StartsWith(p.Prefix, StringComparison.Ordinal))))
              .Where(x => x.protocol >= 0)
              .Select(x => new SubChain(root, x.c.Key, x.c.Value, SubChainProtocols[x.protocol].Match));

    /// <summary>Roots (I, O, FI, FO, HI) keep their creation order ahead of sub-chains, which keep theirs.</summary>
    private static int RootRank(string role) => role.Contains('-', StringComparison.Ordinal) ? 1 : 0;
}
