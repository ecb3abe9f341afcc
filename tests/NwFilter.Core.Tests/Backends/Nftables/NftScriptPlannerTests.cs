using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>The transaction planner against given kernel states: replace, remove, bulk, ids, tables.</summary>
public class NftScriptPlannerTests
{
    private static NftPortRuleset CleanTraffic(string port, int n = 2) =>
        NftTestFilters.Compile("clean-traffic", port, $"52:54:00:00:00:{n:x2}", $"10.0.0.{n}");

    private static NftPortRuleset TestEth0(string port, int n = 2) =>
        NftTestFilters.Compile("test-eth0", port, $"52:54:00:00:00:{n:x2}", $"10.0.0.{n}");

    /// <summary>The state the kernel is in after <paramref name="script"/> ran on an empty firewall (what nft -j list chains shows).</summary>
    private static NftState After(params NftScript[] scripts)
    {
        var chains = new List<(string Family, string Name, bool Base)>();
        foreach (var statement in scripts.SelectMany(s => s.Statements))
        {
            var w = statement.Split(' ');
            if (w[0] is "add" or "create" && w[1] == "chain")
            {
                chains.RemoveAll(c => c.Family == w[2] && c.Name == w[4]);
                chains.Add((w[2], w[4], statement.Contains("hook", StringComparison.Ordinal)));
            }
            else if (w[0] == "delete" && w[1] == "chain")
            {
                chains.RemoveAll(c => c.Family == w[2] && c.Name == w[4]);
            }
            else if (w[0] == "delete" && w[1] == "table")
            {
                chains.RemoveAll(c => c.Family == w[2]);
            }
        }
        var items = chains.Select(c => c.Base
            ? $"{{\"chain\": {{\"family\": \"{c.Family}\", \"table\": \"nwfilter\", \"name\": \"{c.Name}\", \"handle\": 1, \"type\": \"filter\", \"hook\": \"x\", \"prio\": 0, \"policy\": \"accept\"}}}}"
            : $"{{\"chain\": {{\"family\": \"{c.Family}\", \"table\": \"nwfilter\", \"name\": \"{c.Name}\", \"handle\": 2}}}}");
        return NftState.ParseChainListing("{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\"}}, " + string.Join(", ", items) + "]}");
    }

    [Fact]
    public void ReplacingAPortBuildsTheNextGenerationRepointsItsElementsAndDeletesTheOldChains()
    {
        var first = NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(TestEth0("vnet0"))]);
        var state = After(first);
        Assert.Equal(1, state.Current("vnet0")!.Generation);

        var second = NftScriptPlanner.Plan(state, [NftPortChange.Set(TestEth0("vnet0", 3))]);
        var s = second.Statements;
        Assert.DoesNotContain(s, x => x.StartsWith("add table", StringComparison.Ordinal) || x.Contains("hook", StringComparison.Ordinal));
        Assert.Contains("create chain bridge nwfilter vnet0/1/2/I", s);
        var repoint = new[]
        {
            "add element bridge nwfilter from-vm { \"vnet0\" : jump vnet0/1/1/I }",
            "delete element bridge nwfilter from-vm { \"vnet0\" }",
            "add element bridge nwfilter from-vm { \"vnet0\" : jump vnet0/1/2/I }",
        };
        Assert.Equal(repoint, s.SkipWhile(x => x != repoint[0]).Take(3));
        Assert.Contains("add element inet nwfilter forward-to-vm { 0x00010000 : jump vnet0/1/2/FO }", s);
        // Every statement that adds comes before the first that deletes a chain, and every old chain is deleted.
        var firstDelete = s.IndexOf(s.First(x => x.StartsWith("delete chain", StringComparison.Ordinal)));
        Assert.True(s.Take(firstDelete).All(x => !x.StartsWith("delete chain", StringComparison.Ordinal)));
        Assert.Equal(first.Statements.Count(x => x.StartsWith("create chain", StringComparison.Ordinal)),
            s.Count(x => x.StartsWith("delete chain", StringComparison.Ordinal) && x.Contains("/1/1/", StringComparison.Ordinal)));
        Assert.DoesNotContain(s.Skip(firstDelete), x => x.StartsWith("add", StringComparison.Ordinal) || x.StartsWith("create", StringComparison.Ordinal));

        var third = After(first, second);
        Assert.Equal(2, third.Current("vnet0")!.Generation);
        Assert.Single(third.Ports["vnet0"]);
    }

    [Fact]
    public void ThePlannedResultIsWhatAFreshReadShowsAfterwards()
    {
        var first = NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(TestEth0("vnet0")), NftPortChange.Set(CleanTraffic("vnet1", 3))]);
        var second = NftScriptPlanner.Plan(first.Result, [NftPortChange.Set(CleanTraffic("vnet0")), NftPortChange.Remove("vnet1"), NftPortChange.Set(TestEth0("vnet2", 4))]);
        foreach (var (result, simulated) in new[] { (first.Result, After(first)), (second.Result, After(first, second)) })
        {
            Assert.Equal(simulated.BaseChains.Order(), result.BaseChains.Order());
            Assert.Equal(simulated.Ports.Keys.Order(StringComparer.Ordinal), result.Ports.Keys.Order(StringComparer.Ordinal));
            foreach (var (port, generations) in simulated.Ports)
            {
                var (expected, actual) = (generations.Single(), result.Ports[port].Single());
                Assert.Equal((expected.Id, expected.Generation), (actual.Id, actual.Generation));
                Assert.Equal(expected.Chains.Order(), actual.Chains.Order());
            }
        }
    }

    [Fact]
    public void APortKeepsItsIdAcrossReplacesAndNewPortsTakeTheLowestFreeId()
    {
        var state = After(NftScriptPlanner.Plan(NftState.Empty,
            [NftPortChange.Set(TestEth0("vnet0")), NftPortChange.Set(TestEth0("vnet1")), NftPortChange.Set(TestEth0("vnet2"))]));
        Assert.Equal([1, 2, 3], new[] { "vnet0", "vnet1", "vnet2" }.Select(p => state.Current(p)!.Id));

        // vnet1 goes and vnet3 comes in the same transaction: vnet1's id is not reused at once (a packet in flight may carry it).
        var script = NftScriptPlanner.Plan(state, [NftPortChange.Remove("vnet1"), NftPortChange.Set(TestEth0("vnet3")), NftPortChange.Set(TestEth0("vnet0", 9))]);
        var next = After(NftScriptPlanner.Plan(NftState.Empty,
            [NftPortChange.Set(TestEth0("vnet0")), NftPortChange.Set(TestEth0("vnet1")), NftPortChange.Set(TestEth0("vnet2"))]), script);
        Assert.Equal(1, next.Current("vnet0")!.Id);
        Assert.Equal(4, next.Current("vnet3")!.Id);
        Assert.Null(next.Current("vnet1"));
        Assert.Contains(script.Ports, p => p.PortDevice == "vnet1" && p.Generation == 0 && p.Replaced.SequenceEqual([1]));

        // Later, the freed id is the lowest free one again.
        var later = NftScriptPlanner.Plan(next, [NftPortChange.Set(TestEth0("vnet5"))]);
        Assert.Contains(later.Ports, p => p.PortDevice == "vnet5" && p.Id == 2);
    }

    [Fact]
    public void RemovingAPortDeletesItsElementsBeforeItsChainsAndKeepsTheTables()
    {
        var state = After(NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(TestEth0("vnet0")), NftPortChange.Set(CleanTraffic("vnet1", 3))]));
        var script = NftScriptPlanner.Plan(state, [NftPortChange.Remove("vnet1")]);
        var s = script.Statements;
        Assert.All(s, x => Assert.Contains("vnet1", x, StringComparison.Ordinal));
        var lastElement = s.ToList().FindLastIndex(x => x.Contains("element", StringComparison.Ordinal));
        var firstChain = s.ToList().FindIndex(x => x.StartsWith("delete chain", StringComparison.Ordinal));
        Assert.True(lastElement < firstChain);
        Assert.Equal(["vnet0"], After(NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(TestEth0("vnet0")), NftPortChange.Set(CleanTraffic("vnet1", 3))]), script).Ports.Keys);
    }

    [Fact]
    public void RemovingTheLastPortDeletesBothTables()
    {
        var state = After(NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(TestEth0("vnet0"))]));
        var script = NftScriptPlanner.Plan(state, [NftPortChange.Remove("vnet0")]);
        Assert.Equal(["delete table bridge nwfilter", "delete table inet nwfilter"], script.Statements.ToArray());
        Assert.True(NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Remove("vnet0")]).IsEmpty, "nothing to remove: no statement");
    }

    [Fact]
    public void TheInetTableGoesWhenTheLastPortWithLayer4RulesGoes()
    {
        var state = After(NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(TestEth0("vnet0")), NftPortChange.Set(CleanTraffic("vnet1", 3))]));
        var script = NftScriptPlanner.Plan(state, [NftPortChange.Set(CleanTraffic("vnet0"))]);
        Assert.Equal("delete table inet nwfilter", script.Statements[^1]);
        Assert.DoesNotContain(script.Statements, x => x.StartsWith("create chain inet", StringComparison.Ordinal));
        Assert.False(After(NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(TestEth0("vnet0")), NftPortChange.Set(CleanTraffic("vnet1", 3))]), script)
            .HasTable(NftFamily.Inet));
    }

    [Fact]
    public void APortWithoutLayer4RulesIsNotMarked()
    {
        var script = NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(CleanTraffic("vnet0"))]);
        Assert.DoesNotContain(script.Statements, x => x.Contains("mark set", StringComparison.Ordinal) || x.Contains(" inet ", StringComparison.Ordinal));
        var marked = NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(TestEth0("vnet0"))]).Statements;
        Assert.Equal("add rule bridge nwfilter vnet0/1/1/I meta mark set meta mark and 0xffff0000 or 0x00000001",
            marked.First(x => x.StartsWith("add rule bridge nwfilter vnet0/1/1/I ", StringComparison.Ordinal)));
    }

    [Fact]
    public void ThousandPortsAreOneTransactionWithDistinctIds()
    {
        var changes = Enumerable.Range(0, 1000).Select(i => NftPortChange.Set(TestEth0($"vnet{i}", i % 250 + 2))).ToList();
        var script = NftScriptPlanner.Plan(NftState.Empty, changes);
        Assert.Equal(1000, script.Ports.Select(p => p.Id).Distinct().Count());
        Assert.Single(script.Statements, x => x == "add table bridge nwfilter");
        Assert.Equal(1000, script.Statements.Count(x => x.StartsWith("add element bridge nwfilter from-vm", StringComparison.Ordinal)));
    }

    [Fact]
    public void ALeftoverOlderGenerationIsDeletedToo()
    {
        var first = NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(CleanTraffic("vnet0"))]);
        // A stray chain of generation 1 beside a complete generation 2 (drift): the next replace deletes both.
        var drifted = After(first, new NftScript(["add chain bridge nwfilter vnet0/1/2/I", "add chain bridge nwfilter vnet0/1/2/O"], []));
        var script = NftScriptPlanner.Plan(drifted, [NftPortChange.Set(CleanTraffic("vnet0"))]);
        Assert.Contains("create chain bridge nwfilter vnet0/1/3/I", script.Statements);
        Assert.Contains("delete chain bridge nwfilter vnet0/1/1/I-mac", script.Statements);
        Assert.Contains("delete chain bridge nwfilter vnet0/1/2/O", script.Statements);
    }

    [Theory]
    [InlineData("vnet*")]
    [InlineData("a\\b")]
    [InlineData("tap\"0")]
    [InlineData("tap 0")]
    [InlineData("")]
    public void PortNamesThatCannotBeLiteralNftStringsAreRefused(string port)
    {
        var e = Assert.ThrowsAny<Exception>(() => NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Remove(port)]));
        Assert.True(e is ArgumentException or NwFilterException { Primary.Code: "InvalidPortDevice" }, e.ToString());
    }

    [Fact]
    public void TheStateReaderIgnoresOtherTablesAndReportsForeignChainsInOurs()
    {
        const string json = """
            {"nftables": [{"metainfo": {"version": "1.0.6"}},
             {"chain": {"family": "inet", "table": "filter", "name": "vnet0/1/1/I", "handle": 1}},
             {"chain": {"family": "bridge", "table": "nwfilter", "name": "prerouting", "handle": 2, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}},
             {"chain": {"family": "bridge", "table": "nwfilter", "name": "vnet_2d0/7/3/I", "handle": 3}},
             {"chain": {"family": "bridge", "table": "nwfilter", "name": "vnet_2d0/7/3/I-arp-ip", "handle": 4}},
             {"chain": {"family": "bridge", "table": "nwfilter", "name": "mine", "handle": 5}}]}
            """;
        var state = NftState.ParseChainListing(json);
        Assert.Equal(["vnet-0"], state.Ports.Keys);
        Assert.Equal((7, 3), (state.Current("vnet-0")!.Id, state.Current("vnet-0")!.Generation));
        Assert.Equal(["bridge mine"], state.ForeignChains.ToArray());
        Assert.Contains((NftFamily.Bridge, "prerouting"), state.BaseChains);
        Assert.Throws<NwFilterException>(() => NftState.ParseChainListing("{not json"));
    }
}
