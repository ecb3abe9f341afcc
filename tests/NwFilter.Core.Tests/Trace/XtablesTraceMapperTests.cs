using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Trace;
using NwFilter.Core.Trace.Kernel;

namespace NwFilter.Core.Tests.Trace;

/// <summary>
/// The EbIpTables live-trace mapper without a kernel: handles read from <c>nft -a monitor trace</c> lines, positions
/// from <c>nft -j -a list table</c>, a position mapped to its rule instance through the compiled commands, and the
/// refusal of legacy xtables tools before anything is read.
/// </summary>
public sealed class XtablesTraceMapperTests
{
    private static readonly IFilterSource Filters = new InMemoryFilterSource([.. BuiltInFilters.All, BindingLab.TestEth0]);

    private static Ruleset CleanTraffic() =>
        RulesetBuilder.Build(Filters, "clean-traffic", "vnet0", PhysicalAddress.Parse("52-54-00-00-00-10"), Build.Params(("IP", "10.0.0.10")), FirewallBackendKind.EbIpTables);

    [Fact]
    public void AHandleIsReadFromARuleEventWithAndWithoutAComment()
    {
        var rule = NftTraceEvents.Parse("trace id ced10862 bridge nat I-vnet0-ipv4-ip rule ether type ip ip saddr 10.77.0.99 counter packets 0 bytes 0 drop # handle 5 (verdict drop)")!;
        Assert.Equal(("bridge", "nat", "I-vnet0-ipv4-ip", "rule", "drop", 5L), (rule.Family, rule.Table, rule.Chain, rule.Kind, rule.Verdict, rule.Handle));
        var commented = NftTraceEvents.Parse("trace id 03007853 bridge nwfilter vnet0/1/1/I-ipv4-ip rule ip saddr != 10.0.0.5 drop comment \"nwf:9 1000 no-ip-spoofing\" # handle 17 (verdict drop)")!;
        Assert.Equal(("nwf:9 1000 no-ip-spoofing", 17L, "drop"), (commented.Comment, commented.Handle, commented.Verdict));
        var unknown = NftTraceEvents.Parse("trace id 4aa8f5ef ip filter FI-vnet0 unknown rule handle 42 (verdict drop)")!;
        Assert.Equal(("rule", 42L), (unknown.Kind, unknown.Handle));
        Assert.Null(NftTraceEvents.Parse("trace id 4aa8f5ef ip filter FI-vnet0 rule tcp dport 80 drop (verdict drop)")!.Handle);
        Assert.Null(NftTraceEvents.Parse("trace id 4aa8f5ef ip filter FORWARD policy accept ")!.Handle);
    }

    [Fact]
    public void PositionsCountEveryRuleOfAChainButKeepOnlyThePortsChains()
    {
        const string json = """
            {"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "ip", "name": "filter", "handle": 3}},
             {"chain": {"family": "ip", "table": "filter", "name": "FI-vnet0", "handle": 2}},
             {"rule": {"family": "ip", "table": "filter", "chain": "libvirt-in", "handle": 5, "expr": []}},
             {"rule": {"family": "ip", "table": "filter", "chain": "FI-vnet0", "handle": 6, "expr": []}},
             {"rule": {"family": "ip", "table": "filter", "chain": "FI-vnet1", "handle": 9, "expr": []}},
             {"rule": {"family": "ip", "table": "filter", "chain": "FI-vnet0", "handle": 4, "expr": []}},
             {"rule": {"family": "ip", "table": "filter", "chain": "FJ-vnet0", "handle": 11, "expr": []}}]}
            """;
        var positions = XtablesTraceMapper.Positions(json, "vnet0");
        // Order in the listing, not handle order, gives the position; shared chains, other ports and temporary chains are left out.
        Assert.Equal(("FI-vnet0", 0), positions[6]);
        Assert.Equal(("FI-vnet0", 1), positions[4]);
        Assert.Equal(2, positions.Count);
    }

    [Fact]
    public void APositionMapsToTheInstanceOfTheCommandThatAppendedIt()
    {
        var ruleset = CleanTraffic();
        var planned = XtablesProvenance.Planned(ruleset.Commands, "vnet0", FirewallCommand.Ebtables);
        var chain = planned.Single(p => p.Key == "I-vnet0-ipv4-ip").Value;
        var at = chain.FindIndex(c => c.Origin?.Instance.Rule.Action == RuleAction.Drop);
        Assert.True(at >= 0, "no-ip-spoofing's drop is in I-vnet0-ipv4-ip");
        var e = new NftTraceEvent("1", "bridge", "nat", "I-vnet0-ipv4-ip", "rule", null, "drop") { Handle = 32 };

        var step = XtablesTraceMapper.Step(e, "I-vnet0-ipv4-ip", at, planned, "vnet0")!;
        Assert.Equal(("I-ipv4-ip", TraceVerdict.Drop, "no-ip-spoofing", TraceDirection.Out), (step.Chain, step.Verdict, step.Filter, step.PacketDirection));
        Assert.Equal(chain[at].Origin!.Instance.RulePriority, step.Priority);
        Assert.Contains("bridge nat I-vnet0-ipv4-ip rule " + (at + 1) + " (handle 32)", step.Reason, StringComparison.Ordinal);

        // Past the planned rules (ebtables-nft's closing policy rule), a jump, or another chain: no rule instance's step.
        Assert.Null(XtablesTraceMapper.Step(e with { Verdict = "accept" }, "I-vnet0-ipv4-ip", chain.Count, planned, "vnet0"));
        var root = planned["libvirt-I-vnet0"];
        var jump = root.FindIndex(c => c.Arguments.IndexOf("-j") is var j && j >= 0 && j + 1 < c.Arguments.Length && c.Arguments[j + 1].Contains("-vnet0-", StringComparison.Ordinal));
        Assert.True(jump >= 0, "the root chain jumps into the port's sub-chains");
        Assert.Null(XtablesTraceMapper.Step(e with { Chain = "libvirt-I-vnet0", Verdict = "jump I-vnet0-ipv4" }, "libvirt-I-vnet0", jump, planned, "vnet0"));
    }

    [Fact]
    public void ChainRolesAreTheSimulationsNames()
    {
        Assert.Equal("I", XtablesProvenance.Role("libvirt-I-vnet0", "vnet0"));
        Assert.Equal("O-ipv4", XtablesProvenance.Role("O-vnet0-ipv4", "vnet0"));
        Assert.Equal("I-arp-mac", XtablesProvenance.Role("I-vnet0-arp-mac", "vnet0"));
        Assert.Equal("FO", XtablesProvenance.Role("FO-vnet0", "vnet0"));
        Assert.Equal("HI", XtablesProvenance.Role("HI-vnet0", "vnet0"));
    }

    [Theory]
    [InlineData("ebtables 1.8.9 (legacy)", "legacy variant")]
    [InlineData(null, "not installed")]
    [InlineData("ebtables v2.0.10.4 (December 2011)", "no known variant")]
    public void ATraceOfLegacyOrMissingToolsIsRefusedNamingWhy(string? version, string why)
    {
        var refusal = XtablesTraceMapper.Untraceable("ebtables", version)!;
        Assert.Equal((TraceCodes.LiveNotTraceable, "ebtables", DiagnosticCategory.InvalidOperation), (refusal.Code, refusal.Value, refusal.Category));
        Assert.Contains(why, refusal.Message, StringComparison.Ordinal);
        Assert.Null(XtablesTraceMapper.Untraceable("iptables", "iptables v1.8.9 (nf_tables)"));
    }

    [Fact]
    public async Task ALegacyToolIsRefusedBeforeAnyTableIsRead()
    {
        Skip.If(FirewallTools.Locate("ebtables") is null, "ebtables is not installed");
        var runner = new VersionRunner("ebtables 1.8.9 (legacy)");
        var e = await Assert.ThrowsAsync<NwFilterException>(() => XtablesTraceMapper.CreateAsync("nwft-absent", "vnet0", CleanTraffic().Commands, runner));
        Assert.Equal(TraceCodes.LiveNotTraceable, Assert.Single(e.Diagnostics).Code);
        Assert.All(runner.Requests, r => Assert.Equal(["-V"], r.Arguments));
    }

    private sealed class VersionRunner(string version) : IProcessRunner
    {
        public List<ProcessRequest> Requests { get; } = [];

        public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
        {
            Requests.Add(request);
            return Task.FromResult(new ProcessResult(request, 0, version + "\n", "", TimeSpan.Zero));
        }
    }
}
