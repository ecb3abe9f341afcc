using System.Collections.Immutable;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// Compiles one port's resolved rule instances into its nftables chains (pure). The instances are lowered first
/// (<see cref="RuleLowering"/>: libvirt's semantics, shared with the ebtables/iptables backend); this class only places
/// the lowered rules: Ethernet rules into the bridge chains I (from the VM) and O (to the VM) or their sub-chains, with
/// the jumps where the lowering creates them, layer-4 copies into FI, FO and HI. Every rule made from a rule instance
/// carries its provenance in its comment (<see cref="NftProvenance"/>) and in <see cref="NftRule.Origin"/>.
/// </summary>
internal static class NftablesCompiler
{
    /// <summary>The match of the jump into a sub-chain, by the sub-chain's protocol.</summary>
    private static string JumpMatch(SubChainProtocol protocol) => protocol switch
    {
        SubChainProtocol.Ipv4 => "ether type ip",
        SubChainProtocol.Ipv6 => "ether type ip6",
        SubChainProtocol.Arp => "ether type arp",
        SubChainProtocol.Rarp => "ether type 0x8035",
        SubChainProtocol.Mac => "",
        SubChainProtocol.Vlan => "ether type vlan",
        SubChainProtocol.Stp => "ether daddr " + ChainNames.StpGroupAddress,
        _ => throw new ArgumentOutOfRangeException(nameof(protocol)),
    };

    /// <summary>
    /// Compiles the port's instances. Throws <see cref="Diagnostics.NwFilterException"/> for what nft cannot express
    /// (ipsets, gratuitous ARP tests, comments with a double quote); see <see cref="NftablesCodes"/>.
    /// </summary>
    public static NftPortRuleset Compile(string portDevice, IReadOnlyList<RuleInstance> instances)
    {
        ChainNames.ValidatePortDevice(portDevice);
        ArgumentNullException.ThrowIfNull(instances);
        var lowered = RuleLowering.Lower(instances);

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

        if (lowered.HasFromVm)
        {
            ChainOf(NftFamily.Bridge, NftPortRuleset.FromVm);
        }
        if (lowered.HasToVm)
        {
            ChainOf(NftFamily.Bridge, NftPortRuleset.ToVm);
        }
        foreach (var step in lowered.Ethernet)
        {
            switch (step)
            {
                case SubChainJump jump:
                    var root = BridgeRoot(jump.Root);
                    var role = NftNames.SubChainRole(root, jump.Suffix);
                    ChainOf(NftFamily.Bridge, role);
                    ChainOf(NftFamily.Bridge, root).Add(new NftRule(JumpMatch(jump.Protocol), NftVerdict.JumpTo(role)));
                    break;
                case LoweredRule rule:
                    ChainOf(NftFamily.Bridge, Role(BridgeRoot(rule.Chain), rule.ChainSuffix)).AddRange(NftBridgeRuleText.Build(rule));
                    break;
            }
        }
        foreach (var rule in lowered.Layer4)
        {
            ChainOf(NftFamily.Inet, NftInetRuleText.Role(rule.Chain)).AddRange(NftInetRuleText.Build(rule));
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

    /// <summary>
    /// The ruleset with a <c>counter</c> statement in every rule made from a rule instance (per-rule counters); NwFilter's
    /// own rules (sub-chain jumps, marks) do not count.
    /// </summary>
    public static NftPortRuleset WithCounters(NftPortRuleset ruleset)
    {
        ArgumentNullException.ThrowIfNull(ruleset);
        return ruleset with
        {
            Chains = [.. ruleset.Chains.Select(c => c with { Rules = [.. c.Rules.Select(r => r.Origin is null ? r : r with { Counter = true })] })],
        };
    }

    private static string BridgeRoot(LoweredChain chain) => chain switch
    {
        LoweredChain.FromVm => NftPortRuleset.FromVm,
        LoweredChain.ToVm => NftPortRuleset.ToVm,
        _ => throw new ArgumentException($"{chain} is not an Ethernet chain.", nameof(chain)),
    };

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

    private static string Role(string root, string suffix) =>
        suffix == FilterDefinition.RootChain ? root : NftNames.SubChainRole(root, suffix);

    /// <summary>Roots (I, O, FI, FO, HI) keep their creation order ahead of sub-chains, which keep theirs.</summary>
    private static int RootRank(string role) => role.Contains('-', StringComparison.Ordinal) ? 1 : 0;
}
