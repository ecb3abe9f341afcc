using System.Collections.Immutable;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using static NwFilter.Core.Backends.EbIpTables.Commands;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// libvirt's ebtables/iptables/ip6tables tech driver as pure plan functions: the exact commands, in the exact order,
/// grouped into libvirt's transactions. The rules' semantics come lowered (<see cref="RuleLowering"/>); this class
/// decides the xtables structure around them (chains, families, links, cleanup, rollback). Every rule command carries
/// its provenance (<see cref="FirewallCommand.Origin"/>), a side table the byte-exact text cannot hold.
/// </summary>
internal sealed partial class EbIpTablesBackend : IFirewallBackend
{
    public static EbIpTablesBackend Instance { get; } = new();

    public string Name => "ebiptables";

    /// <summary>The match of the jump into a sub-chain, by the sub-chain's protocol (libvirt's ebiptablesApplyNewRules table).</summary>
    private static string[] JumpMatch(SubChainProtocol protocol) => protocol switch
    {
        SubChainProtocol.Ipv4 => ["-p", "0x0800"],
        SubChainProtocol.Ipv6 => ["-p", "0x86dd"],
        SubChainProtocol.Arp => ["-p", "0x0806"],
        SubChainProtocol.Rarp => ["-p", "0x8035"],
        SubChainProtocol.Mac => [],
        SubChainProtocol.Vlan => ["-p", "0x8100"],
        SubChainProtocol.Stp => ["-d", ChainNames.StpGroupAddress],
        _ => throw new ArgumentOutOfRangeException(nameof(protocol)),
    };

    public FirewallPlan ApplyNewRules(string portDevice, IReadOnlyList<RuleInstance> instances)
    {
        ChainNames.ValidatePortDevice(portDevice);
        ArgumentNullException.ThrowIfNull(instances);
        var ifname = portDevice;

        // 1. Clean up whatever an earlier attempt left (errors ignored).
        var cleanup = new FirewallTransaction(ToArray(EbTearDown(ChainNames.InTemp, ChainNames.OutTemp, ifname))) { IgnoreErrors = true };

        // 2. The main transaction. Which families and chains exist is xtables structure; what goes into them is the lowering's.
        var lowered = RuleLowering.Lower(instances);
        var main = new List<FirewallCommand>(instances.Count * 3 + 16);
        // libvirt decides the families from the instances: a layer-4 rule whose copies all dropped still makes its family.
        bool haveIpv4 = false, haveIpv6 = false;
        foreach (var instance in instances)
        {
            haveIpv4 |= instance.Layer == ProtocolLayer.IPv4;
            haveIpv6 |= instance.Layer == ProtocolLayer.IPv6;
        }

        if (lowered.HasFromVm || lowered.HasToVm)
        {
            EbtablesPart(ifname, lowered, main);
        }
        if (haveIpv4)
        {
            main.Add(IptablesQuery(FirewallCommand.Iptables, ifname, lowered, ProtocolLayer.IPv4));
        }
        if (haveIpv6)
        {
            main.Add(IptablesQuery(FirewallCommand.Ip6tables, ifname, lowered, ProtocolLayer.IPv6));
        }
        if (lowered.HasFromVm)
        {
            main.Add(EbLinkRoot(true, ChainNames.InTemp, ifname));
        }
        if (lowered.HasToVm)
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
    /// The ebtables part: root chains, then the lowered Ethernet sequence: each rule copy appended to its side's chain
    /// (or sub-chain), each sub-chain created (and jumped to from its root chain) where the lowering puts it.
    /// </summary>
    private static void EbtablesPart(string ifname, LoweredPort lowered, List<FirewallCommand> main)
    {
        if (lowered.HasFromVm)
        {
            main.Add(EbCreateRoot(ChainNames.InTemp, ifname));
        }
        if (lowered.HasToVm)
        {
            main.Add(EbCreateRoot(ChainNames.OutTemp, ifname));
        }
        foreach (var step in lowered.Ethernet)
        {
            switch (step)
            {
                case SubChainJump jump:
                    var prefix = Side(jump.Root);
                    var chain = ChainNames.EbSub(prefix, ifname, jump.Suffix);
                    main.AddRange(EbRemoveChain(chain));
                    main.Add(Eb(false, "-N", chain));
                    main.Add(Eb(false, ["-A", ChainNames.EbRoot(prefix, ifname), .. JumpMatch(jump.Protocol), "-j", chain]));
                    break;
                case LoweredRule rule:
                    main.Add(EbtablesRuleText.Build(rule, ChainNames.EbChain(Side(rule.Chain), ifname, rule.ChainSuffix)));
                    break;
            }
        }
    }

    private static char Side(LoweredChain chain) => chain switch
    {
        LoweredChain.FromVm => ChainNames.InTemp,
        LoweredChain.ToVm => ChainNames.OutTemp,
        _ => throw new ArgumentException($"{chain} is not an Ethernet chain.", nameof(chain)),
    };

    private static FirewallCommand IptablesQuery(string program, string ifname, LoweredPort lowered, ProtocolLayer layer)
    {
        var rules = new List<FirewallCommand>(lowered.Layer4.Length);
        foreach (var rule in lowered.Layer4)
        {
            if (rule.Layer == layer)
            {
                rules.AddRange(IptablesRuleText.Build(rule, ifname));
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
