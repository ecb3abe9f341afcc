using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>The one-line summary a plan starts with (-WhatIf), and the swap step's wording.</summary>
public sealed class PlanSummaryTests : IDisposable
{
    private readonly TempDirectory state = new("nwfilter-plansummary");

    public void Dispose() => state.Dispose();

    private static PlannedTransaction Restore(string program, string input) => new("build", program, ["--noflush"], input);

    private static PlannedTransaction Nft(string input) => new("swap", "nft", ["-f", "-"], input);

    [Fact]
    public void CountsTheChainsAndRulesOfEachFamilyFromTheScripts()
    {
        var line = PlanSummary.Line(
        [
            Restore("ebtables-restore", "*nat\n-N libvirt-J-vnet0\n-N J-vnet0-mac\n-A libvirt-J-vnet0 -j J-vnet0-mac\n-A J-vnet0-mac -j DROP\n-P PREROUTING ACCEPT\nCOMMIT\n"),
            Restore("iptables-restore", "*filter\n:INPUT ACCEPT [0:0]\n:FJ-vnet0 - [0:0]\n-A FJ-vnet0 -p tcp -j RETURN\nCOMMIT\n"),
            Nft("add rule bridge nat PREROUTING iifname \"vnet0\" counter jump libvirt-J-vnet0\ndelete rule ip filter libvirt-out handle 12\nflush chain ip filter FO-vnet0\ndelete chain ip filter FO-vnet0\nrename chain bridge nat libvirt-J-vnet0 libvirt-I-vnet0\n"),
        ]);
        Assert.Equal("Summary: bridge: 2 chains and 3 rules added; ip: 1 chain and 1 rule added, 1 chain with its rules and 1 rule removed.", line);
    }

    [Fact]
    public void CountsThePortMapEntriesOfAnNftablesScript()
    {
        var line = PlanSummary.Line([Nft("create chain bridge nwfilter vnet0/1/1/I\nadd rule bridge nwfilter vnet0/1/1/I drop\nadd element bridge nwfilter from-vm { \"vnet0\" : jump vnet0/1/1/I, \"vnet1\" : jump vnet1/1/1/I }\n")]);
        Assert.Equal("Summary: bridge: 1 chain and 1 rule added, 2 port map entries added.", line);
    }

    [Fact]
    public void AnEmptyPlanSaysSo() =>
        Assert.Equal("# Summary: no chain or rule is added or removed.\n# Nothing to do.\n", new ExecutionPlan([], false, null).ToString());

    [Theory]
    [InlineData(FirewallBackendKind.EbIpTables)]
    [InlineData(FirewallBackendKind.Nftables)]
    public void APlanStartsWithItsSummaryAndAFirstApplyTakesNoOldRulesOut(FirewallBackendKind backend)
    {
        var manager = new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = "nwft-absent",
            Filters = new InMemoryFilterSource(BuiltInFilters.All),
            Store = new BindingStore(state.Combine("bindings"), "nwft-absent"),
        });
        var binding = new FilterBinding("vnet0", LearningPackets.VmMac, "clean-traffic") { Parameters = Build.Params(("IP", "10.0.0.5")), Backend = backend };
        var text = manager.PlanApply(FirewallSnapshot.Empty(), [binding]).ToString();
        var first = text.Split('\n')[0];
        Assert.StartsWith("# Summary: bridge: ", first, StringComparison.Ordinal);
        Assert.Contains(" added", first, StringComparison.Ordinal);
        Assert.DoesNotContain("removed", first, StringComparison.Ordinal);
        Assert.DoesNotContain("old rules out", text, StringComparison.Ordinal);
        if (backend == FirewallBackendKind.EbIpTables)
        {
            Assert.Contains("# swap: new rules in (no port had rules to take out)", text, StringComparison.Ordinal);
        }
    }
}
