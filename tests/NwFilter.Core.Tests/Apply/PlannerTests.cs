using NwFilter.Core.Backends.EbIpTables.Kernel;
using NwFilter.Core.Backends.EbIpTables;
using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>The build and swap plans, made against modelled tables (no kernel needed).</summary>
public sealed class PlannerTests
{
    private static readonly InMemoryFilterSource Filters = new([.. BuiltInFilters.All, BindingLab.TestEth0]);
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("52-54-00-AA-BB-CC");

    private static FirewallPlan Plan(string filter, string port = "vnet0") =>
        RulesetBuilder.Build(Filters, filter, port, Mac, Build.Params(("IP", "10.0.0.5"))).Plan!;

    /// <summary>The tables after the swap and the rename transactions.</summary>
    private static KernelState Applied(BuildPlan build)
    {
        var (swap, rename) = SwapPlanner.Swap(build);
        return new SwapPlan(swap.After(), rename.Ops).After();
    }

    [Fact]
    public void AFirstApplyBuildsInertChainsAndSwapsThemInOneNftScript()
    {
        var plan = XtablesExecutor.PlanApply(KernelState.Empty(), [("vnet0", Plan("test-eth0"))]);
        Assert.Equal(["ebtables-restore", "iptables-restore", "nft", "nft"], plan.Select(t => t.Program));

        var eb = plan[0].Input;
        Assert.StartsWith("*nat\n", eb, StringComparison.Ordinal);
        Assert.DoesNotContain("-A PREROUTING", eb, StringComparison.Ordinal); // linked by the swap, not the build
        Assert.Contains("-N libvirt-J-vnet0\n", eb, StringComparison.Ordinal);
        Assert.Contains("-P PREROUTING ACCEPT\n", eb, StringComparison.Ordinal);
        Assert.DoesNotContain("-F ", eb, StringComparison.Ordinal); // nothing to clean on an empty host

        // iptables: base chains, then a placeholder final chain linked before each temporary chain's link.
        var ipt = plan[1].Input.Split('\n');
        var placeholder = Array.IndexOf(ipt, "-A libvirt-in -m physdev --physdev-in vnet0 -g FI-vnet0");
        var shadowed = Array.IndexOf(ipt, "-A libvirt-in -m physdev --physdev-in vnet0 -g FJ-vnet0");
        Assert.True(placeholder >= 0 && shadowed > placeholder, plan[1].Input);
        Assert.Contains("-N FI-vnet0", ipt);
        Assert.Contains("-I FORWARD 1 -j libvirt-in", ipt);

        var swap = plan[2].Input + plan[3].Input;
        Assert.Contains("add rule bridge nat PREROUTING iifname \"vnet0\" counter jump libvirt-J-vnet0\n", swap, StringComparison.Ordinal);
        Assert.Contains("delete chain ip filter FI-vnet0\n", swap, StringComparison.Ordinal);
        Assert.Contains("rename chain ip filter FJ-vnet0 FI-vnet0\n", swap, StringComparison.Ordinal);
        Assert.Contains("rename chain bridge nat libvirt-J-vnet0 libvirt-I-vnet0\n", swap, StringComparison.Ordinal);
        Assert.Contains("rename chain bridge nat J-vnet0-mac I-vnet0-mac\n", swap, StringComparison.Ordinal);
        Assert.Contains("delete rule ip filter libvirt-in handle <iptables: -A libvirt-in -m physdev --physdev-in vnet0 -g FI-vnet0>", swap, StringComparison.Ordinal);
        Assert.True(swap.IndexOf("delete chain ip filter FI-vnet0", StringComparison.Ordinal) < swap.IndexOf("rename chain ip filter FJ-vnet0 FI-vnet0", StringComparison.Ordinal));
    }

    [Fact]
    public void ManyPortsShareOneTransactionPerFamily()
    {
        var ports = Enumerable.Range(0, 50).Select(i => ($"vnet{i}", Plan("clean-traffic", $"vnet{i}"))).ToList();
        var plan = XtablesExecutor.PlanApply(KernelState.Empty(), ports);
        Assert.Equal(["ebtables-restore", "nft", "nft"], plan.Select(t => t.Program));
        Assert.DoesNotContain("rename", plan[1].Input, StringComparison.Ordinal);
        Assert.Contains("rename chain bridge nat libvirt-J-vnet49 libvirt-I-vnet49\n", plan[2].Input, StringComparison.Ordinal);
        Assert.Contains("-N libvirt-J-vnet49\n", plan[0].Input, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSwapOfAnUpdateDeletesTheOldChainsBeforeRenamingTheNewOnes()
    {
        var state = KernelState.Empty();
        var first = BuildPlanner.Plan(state, [("vnet0", Plan("test-eth0"))]);
        var applied = Applied(first);
        Assert.True(applied.Ebtables.HasChain("libvirt-I-vnet0"));
        Assert.False(applied.Ebtables.HasChain("libvirt-J-vnet0"));
        Assert.Equal("FI-vnet0", Assert.Single(applied.Iptables.RulesOf("libvirt-in")).Target);

        var second = BuildPlanner.Plan(applied, [("vnet0", Plan("clean-traffic"))]);
        Assert.Null(second.Batch(XtablesFamily.Iptables)); // clean-traffic has no iptables rules
        var swap = SwapPlanner.Swap(second).Swap;
        var after = Applied(second);
        Assert.False(after.Iptables.HasChain("FI-vnet0"));
        Assert.Empty(after.Iptables.RulesOf("libvirt-in"));
        Assert.Empty(after.Iptables.RulesOf("libvirt-in-post"));
        Assert.Single(after.Ebtables.RulesOf("PREROUTING"));
        Assert.Contains(swap.Ops, o => o is DeleteRuleOp { Chain: "PREROUTING" });
    }

    [Fact]
    public void TeardownOfTheLastPortRemovesTheBaseChainsAndTheirHooks()
    {
        var state = Applied(BuildPlanner.Plan(KernelState.Empty(), [("vnet0", Plan("test-eth0")), ("vnet1", Plan("test-eth0", "vnet1"))]));
        var one = SwapPlanner.Teardown(state, ["vnet0"], removeBaseChains: true).After();
        Assert.True(one.Iptables.HasChain("libvirt-in"), "vnet1 still uses the base chains");
        Assert.DoesNotContain(one.Ebtables.Chains, c => c.Name.Contains("vnet0", StringComparison.Ordinal));

        var none = SwapPlanner.Teardown(one, ["vnet1"], removeBaseChains: true).After();
        Assert.Equal(["INPUT", "FORWARD", "OUTPUT"], none.Iptables.Chains.Select(c => c.Name));
        Assert.Empty(none.Iptables.RulesOf("FORWARD"));
        Assert.Equal(["PREROUTING", "OUTPUT", "POSTROUTING"], none.Ebtables.Chains.Select(c => c.Name));
    }

    [Fact]
    public void TheBuildRollbackDeletesWhatTheBuildAddedAndNothingElse()
    {
        var state = Applied(BuildPlanner.Plan(KernelState.Empty(), [("vnet1", Plan("test-eth0", "vnet1"))]));
        var build = BuildPlanner.Plan(state, [("vnet0", Plan("test-eth0"))]);
        var rollback = BuildPlanner.Rollback(build, XtablesFamily.Iptables)!.Text;
        Assert.Contains("-D libvirt-in -m physdev --physdev-in vnet0 -g FJ-vnet0\n", rollback, StringComparison.Ordinal);
        Assert.Contains("-D libvirt-in-post -m physdev --physdev-in vnet0 -j ACCEPT\n", rollback, StringComparison.Ordinal);
        Assert.Contains("-X FJ-vnet0\n", rollback, StringComparison.Ordinal);
        Assert.DoesNotContain("vnet1", rollback, StringComparison.Ordinal);
        Assert.DoesNotContain("-X libvirt-in\n", rollback, StringComparison.Ordinal);
        Assert.Contains("-X libvirt-J-vnet0\n", BuildPlanner.Rollback(build, XtablesFamily.Ebtables)!.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSwapScriptChecksEachDeletedRuleAgainstTheListing()
    {
        var state = Applied(BuildPlanner.Plan(KernelState.Empty(), [("vnet0", Plan("clean-traffic"))]));
        var swap = SwapPlanner.Swap(BuildPlanner.Plan(state, [("vnet0", Plan("clean-traffic"))])).Swap;
        var pre = new NftRuleLine("iifname \"vnet0\" counter packets 0 bytes 0 jump libvirt-I-vnet0", 7);
        var post = new NftRuleLine("oifname \"vnet0\" counter packets 0 bytes 0 jump libvirt-O-vnet0", 9);
        var script = swap.ToNft(new Dictionary<(XtablesFamily, string), IReadOnlyList<NftRuleLine>>
        {
            [(XtablesFamily.Ebtables, "PREROUTING")] = [pre],
            [(XtablesFamily.Ebtables, "POSTROUTING")] = [post],
        });
        Assert.StartsWith("delete rule bridge nat PREROUTING handle 7\n", script, StringComparison.Ordinal);
        Assert.Contains("delete rule bridge nat POSTROUTING handle 9\n", script, StringComparison.Ordinal);

        var changed = Assert.Throws<Diagnostics.NwFilterException>(() => swap.ToNft(new Dictionary<(XtablesFamily, string), IReadOnlyList<NftRuleLine>>
        {
            [(XtablesFamily.Ebtables, "PREROUTING")] = [pre with { Text = "iifname \"vnet0\" jump somewhere-else" }],
            [(XtablesFamily.Ebtables, "POSTROUTING")] = [post],
        }));
        Assert.Equal(ApplyCodes.FirewallChangedConcurrently, changed.Primary.Code);
    }

    [Fact]
    public void NftListingsAreParsedIntoRulesWithHandles()
    {
        var rules = SwapPlan.ParseListing("""
            table bridge nat {
            	chain PREROUTING { # handle 2
            		type filter hook prerouting priority dstnat; policy accept;
            		iifname "v0" counter packets 0 bytes 0 jump libvirt-I-v0 # handle 3
            		iifname "v1" counter packets 0 bytes 0 jump libvirt-I-v1 # handle 12
            	}
            }
            """);
        Assert.Equal([3UL, 12UL], rules.Select(r => r.Handle));
        Assert.EndsWith("jump libvirt-I-v1", rules[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ARunKilledBetweenSwapAndRenameIsFinishedFirst()
    {
        var build = BuildPlanner.Plan(KernelState.Empty(), [("vnet0", Plan("test-eth0"))]);
        var swapped = SwapPlanner.Swap(build).Swap.After();
        Assert.True(swapped.Ebtables.HasChain("libvirt-J-vnet0"));
        var repair = SwapPlanner.Repair(swapped);
        Assert.Contains(repair.Ops, o => o is RenameChainOp { From: "libvirt-J-vnet0", To: "libvirt-I-vnet0" });
        Assert.Contains(repair.Ops, o => o is RenameChainOp { Family: XtablesFamily.Iptables, From: "FJ-vnet0", To: "FI-vnet0" });
        Assert.True(SwapPlanner.Repair(repair.After()).IsEmpty);
        Assert.True(SwapPlanner.Repair(build.After).IsEmpty, "chains of a killed build are leftovers, not renamed");
    }
}
