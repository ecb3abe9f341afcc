using System.Collections.Immutable;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using static NwFilter.Core.Backends.EbIpTables.Commands;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// libvirt's ebtables/iptables/ip6tables tech driver as pure plan functions (6.3): the exact commands, in the exact
/// order, grouped into libvirt's transactions.
/// </summary>
public sealed partial class EbIpTablesBackend : IFirewallBackend
{
    public static EbIpTablesBackend Instance { get; } = new();

    public string Name => "ebiptables";

    /// <summary>The chain prefixes a sub-chain's protocol is recognised by, in libvirt's order, with its jump match.</summary>
    private static readonly (string Prefix, string[] Match)[] SubChainProtocols =
    [
        ("ipv4", ["-p", "0x0800"]), ("ipv6", ["-p", "0x86dd"]), ("arp", ["-p", "0x0806"]), ("rarp", ["-p", "0x8035"]),
        ("mac", []), ("vlan", ["-p", "0x8100"]), ("stp", ["-d", ChainNames.StpGroupAddress]),
    ];

    public FirewallPlan ApplyNewRules(string portDevice, IReadOnlyList<RuleInstance> instances)
    {
        ChainNames.ValidatePortDevice(portDevice);
        ArgumentNullException.ThrowIfNull(instances);
        var ifname = portDevice;

        // 1. Clean up whatever an earlier attempt left (errors ignored).
        var cleanup = new FirewallTransaction(ToArray(EbTearDown(ChainNames.InTemp, ChainNames.OutTemp, ifname))) { IgnoreErrors = true };

        // 2. The main transaction.
        var main = new List<FirewallCommand>(instances.Count * 3 + 16);
        bool haveEthernet = false, haveIpv4 = false, haveIpv6 = false;
        foreach (var instance in instances)
        {
            switch (instance.Layer)
            {
                case ProtocolLayer.Ethernet: haveEthernet = true; break;
                case ProtocolLayer.IPv4: haveIpv4 = true; break;
                default: haveIpv6 = true; break;
            }
        }

        var inChains = new Dictionary<string, int>(StringComparer.Ordinal);
        var outChains = new Dictionary<string, int>(StringComparer.Ordinal);
        if (haveEthernet)
        {
            EbtablesPart(ifname, instances, main, inChains, outChains);
        }
        if (haveIpv4)
        {
            main.Add(IptablesQuery(FirewallCommand.Iptables, ifname, instances, ProtocolLayer.IPv4));
        }
        if (haveIpv6)
        {
            main.Add(IptablesQuery(FirewallCommand.Ip6tables, ifname, instances, ProtocolLayer.IPv6));
        }
        if (inChains.Count > 0)
        {
            main.Add(EbLinkRoot(true, ChainNames.InTemp, ifname));
        }
        if (outChains.Count > 0)
        {
            main.Add(EbLinkRoot(false, ChainNames.OutTemp, ifname));
        }

        var rollback = new List<FirewallCommand>
        {
            EbUnlinkRoot(true, ChainNames.InTemp, ifname),
            EbUnlinkRoot(false, ChainNames.OutTemp, ifname),
        };
        if (haveIpv6)
        {
            rollback.AddRange(IptUnlinkRoots(FirewallCommand.Ip6tables, ifname, temporary: true));
            rollback.AddRange(IptRemoveRoots(FirewallCommand.Ip6tables, ifname, temporary: true));
        }
        if (haveIpv4)
        {
            rollback.AddRange(IptUnlinkRoots(FirewallCommand.Iptables, ifname, temporary: true));
            rollback.AddRange(IptRemoveRoots(FirewallCommand.Iptables, ifname, temporary: true));
        }
        rollback.AddRange(EbRemoveSubChains("JP", ifname));
        rollback.AddRange(EbRemoveChain(ChainNames.EbRoot(ChainNames.InTemp, ifname)));
        rollback.AddRange(EbRemoveChain(ChainNames.EbRoot(ChainNames.OutTemp, ifname)));

        return new FirewallPlan(Name, nameof(ApplyNewRules), ifname,
            [cleanup, new FirewallTransaction([.. main]) { Rollback = [.. rollback] }]);
    }

    /// <summary>
    /// The ebtables part: root chains, then the Ethernet rules in order with each sub-chain created (and jumped to from
    /// its root chain) just before the first rule whose effective priority reaches the sub-chain's priority.
    /// </summary>
    private static void EbtablesPart(string ifname, IReadOnlyList<RuleInstance> instances, List<FirewallCommand> main,
        Dictionary<string, int> inChains, Dictionary<string, int> outChains)
    {
        foreach (var instance in instances)
        {
            if (instance.Layer != ProtocolLayer.Ethernet)
            {
                continue;
            }
            var direction = instance.Rule.Direction;
            if (direction is RuleDirection.Out or RuleDirection.InOut)
            {
                inChains[instance.ChainSuffix] = instance.ChainPriority;
            }
            if (direction is RuleDirection.In or RuleDirection.InOut)
            {
                outChains[instance.ChainSuffix] = instance.ChainPriority;
            }
        }

        var subChains = new List<SubChain>();
        if (inChains.Count > 0)
        {
            main.Add(EbCreateRoot(ChainNames.InTemp, ifname));
            subChains.AddRange(SubChainsOf(inChains, ChainNames.InTemp));
        }
        if (outChains.Count > 0)
        {
            main.Add(EbCreateRoot(ChainNames.OutTemp, ifname));
            subChains.AddRange(SubChainsOf(outChains, ChainNames.OutTemp));
        }
        // Stable: at equal priority, from-VM (J) chains precede to-VM (P) chains, each by name (libvirt: hash order).
        var ordered = subChains.OrderBy(s => s.Priority).ToList();

        var next = 0;
        foreach (var instance in instances)
        {
            if (instance.Layer != ProtocolLayer.Ethernet)
            {
                continue;
            }
            while (next < ordered.Count && ordered[next].Priority <= instance.EffectivePriority)
            {
                CreateSubChain(main, ifname, ordered[next++]);
            }
            var rule = instance.Rule;
            if (rule.Direction is RuleDirection.Out or RuleDirection.InOut)
            {
                main.Add(EbtablesRuleText.Build(rule, ChainNames.EbChain(ChainNames.InTemp, ifname, instance.ChainSuffix), reverse: rule.Direction == RuleDirection.InOut));
            }
            if (rule.Direction is RuleDirection.In or RuleDirection.InOut)
            {
                main.Add(EbtablesRuleText.Build(rule, ChainNames.EbChain(ChainNames.OutTemp, ifname, instance.ChainSuffix), reverse: false));
            }
        }
        while (next < ordered.Count)
        {
            CreateSubChain(main, ifname, ordered[next++]);
        }
    }

    private sealed record SubChain(char Prefix, string Suffix, int Priority, string[] Match);

    private static IEnumerable<SubChain> SubChainsOf(Dictionary<string, int> chains, char prefix) =>
        chains.OrderBy(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal)
              .Select(c => (c, protocol: Array.FindIndex(SubChainProtocols, p => c.Key.StartsWith(p.Prefix, StringComparison.Ordinal))))
              .Where(x => x.protocol >= 0)
              .Select(x => new SubChain(prefix, x.c.Key, x.c.Value, SubChainProtocols[x.protocol].Match));

    private static void CreateSubChain(List<FirewallCommand> main, string ifname, SubChain sub)
    {
        var chain = ChainNames.EbSub(sub.Prefix, ifname, sub.Suffix);
        main.AddRange(EbRemoveChain(chain));
        main.Add(Eb(false, "-N", chain));
        main.Add(Eb(false, ["-A", ChainNames.EbRoot(sub.Prefix, ifname), .. sub.Match, "-j", chain]));
    }

    private static FirewallCommand IptablesQuery(string program, string ifname, IReadOnlyList<RuleInstance> instances, ProtocolLayer layer)
    {
        var rules = new List<FirewallCommand>(instances.Count * 3);
        foreach (var instance in instances)
        {
            if (instance.Layer == layer)
            {
                IptablesRuleText.Build(instance.Rule, ifname, rules);
            }
        }
        return Ipt(program, false, "-L") with { Query = new IptablesBaseChainQuery(program, ifname, [.. rules]) };
    }

    public FirewallPlan TearOldRules(string portDevice)
    {
        ChainNames.ValidatePortDevice(portDevice);
        var ifname = portDevice;
        var commands = new List<FirewallCommand>();
        foreach (var program in new[] { FirewallCommand.Iptables, FirewallCommand.Ip6tables })
        {
            commands.AddRange(IptUnlinkRoots(program, ifname, temporary: false));
            commands.AddRange(IptRemoveRoots(program, ifname, temporary: false));
            commands.AddRange(IptRenameTempRoots(program, ifname));
        }
        commands.AddRange(EbTearDown(ChainNames.In, ChainNames.Out, ifname));
        var rename = new EbtablesRenameSubChainsQuery();
        commands.Add(Eb(false, "-L", ChainNames.EbRoot(ChainNames.InTemp, ifname)) with { Query = rename });
        commands.Add(Eb(false, "-L", ChainNames.EbRoot(ChainNames.OutTemp, ifname)) with { Query = rename });
        commands.Add(Eb(false, "-E", ChainNames.EbRoot(ChainNames.InTemp, ifname), ChainNames.EbRoot(ChainNames.In, ifname)));
        commands.Add(Eb(false, "-E", ChainNames.EbRoot(ChainNames.OutTemp, ifname), ChainNames.EbRoot(ChainNames.Out, ifname)));
        return Single(nameof(TearOldRules), ifname, commands);
    }

    public FirewallPlan TearNewRules(string portDevice)
    {
        ChainNames.ValidatePortDevice(portDevice);
        return Single(nameof(TearNewRules), portDevice, TearNewCommands(portDevice));
    }

    public FirewallPlan AllTeardown(string portDevice)
    {
        ChainNames.ValidatePortDevice(portDevice);
        var ifname = portDevice;
        var commands = TearNewCommands(ifname);
        foreach (var program in new[] { FirewallCommand.Iptables, FirewallCommand.Ip6tables })
        {
            commands.AddRange(IptUnlinkRoots(program, ifname, temporary: false));
            commands.AddRange(IptVirtInPost(program, ifname, add: false));
            commands.AddRange(IptRemoveRoots(program, ifname, temporary: false));
        }
        commands.AddRange(EbTearDown(ChainNames.In, ChainNames.Out, ifname));
        return Single(nameof(AllTeardown), ifname, commands);
    }

    private static List<FirewallCommand> TearNewCommands(string ifname)
    {
        var commands = new List<FirewallCommand>();
        foreach (var program in new[] { FirewallCommand.Iptables, FirewallCommand.Ip6tables })
        {
            commands.AddRange(IptUnlinkRoots(program, ifname, temporary: true));
            commands.AddRange(IptRemoveRoots(program, ifname, temporary: true));
        }
        commands.AddRange(EbTearDown(ChainNames.InTemp, ChainNames.OutTemp, ifname));
        return commands;
    }

    private FirewallPlan Single(string operation, string ifname, List<FirewallCommand> commands) =>
        new(Name, operation, ifname, [new FirewallTransaction([.. commands]) { IgnoreErrors = true }]);
}
