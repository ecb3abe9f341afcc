using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Backends.EbIpTables;

public class EbIpTablesBackendTests
{
    private static readonly EbIpTablesBackend Backend = EbIpTablesBackend.Instance;

    private static List<string> Commands(FilterDefinition top, params FilterDefinition[] others) =>
        [.. DryRunRecorder.Run(Backend.ApplyNewRules("vnet0", FilterResolver.Resolve(new InMemoryFilterSource(others), top, ParameterSet.Empty).Instances))
            .Select(c => c.ToString())];

    [Fact]
    public void AnOutgoingTcpRuleGivesThreeCopiesWithStateAndDirection()
    {
        var commands = Commands(Filter("f", Rule(Accept, Out, Tcp, ("dstportstart", "22"))));
        var rules = commands.Where(c => c.StartsWith("iptables -w -A F", StringComparison.Ordinal) || c.StartsWith("iptables -w -A H", StringComparison.Ordinal)).ToList();
        Assert.Equal(
        [
            "iptables -w -A FJ-vnet0 -p tcp --dport 22 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir Original -j RETURN",
            "iptables -w -A FP-vnet0 -p tcp --sport 22 -m conntrack --ctstate ESTABLISHED -m conntrack --ctdir Reply -j ACCEPT",
            "iptables -w -A HJ-vnet0 -p tcp --dport 22 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir Original -j RETURN",
        ], rules);
    }

    [Fact]
    public void SubChainsAreCreatedJustBeforeTheFirstRuleReachingTheirPriority()
    {
        var arp = Filter("arp-f", "arp", -500, Rule(Accept, Out, Arp, ("opcode", "Request")));
        var ipv4 = Filter("ip-f", "ipv4", -700, Rule(Accept, Out, Ip, ("protocol", "udp")));
        var top = Filter("top",
            Rule(Accept, Out, Mac, -600, ("protocolid", "ipv4")),
            Ref("arp-f"),
            Ref("ip-f"),
            Rule(Drop, Out, None, 1000));
        var ebtables = Commands(top, arp, ipv4).Where(c => c.StartsWith("ebtables", StringComparison.Ordinal)).Skip(8).ToList();
        Assert.Equal(
        [
            "ebtables --concurrent -t nat -N libvirt-J-vnet0",
            "ebtables --concurrent -t nat -F J-vnet0-ipv4",
            "ebtables --concurrent -t nat -X J-vnet0-ipv4",
            "ebtables --concurrent -t nat -N J-vnet0-ipv4",
            "ebtables --concurrent -t nat -A libvirt-J-vnet0 -p 0x0800 -j J-vnet0-ipv4",
            "ebtables --concurrent -t nat -A libvirt-J-vnet0 -p 0x800 -j ACCEPT",
            "ebtables --concurrent -t nat -F J-vnet0-arp",
            "ebtables --concurrent -t nat -X J-vnet0-arp",
            "ebtables --concurrent -t nat -N J-vnet0-arp",
            "ebtables --concurrent -t nat -A libvirt-J-vnet0 -p 0x0806 -j J-vnet0-arp",
            "ebtables --concurrent -t nat -A libvirt-J-vnet0 -j DROP",
            // Non-root rules of equal priority keep flattening order: arp-f before ip-f.
            "ebtables --concurrent -t nat -A J-vnet0-arp -p 0x806 --arp-opcode 1 -j ACCEPT",
            "ebtables --concurrent -t nat -A J-vnet0-ipv4 -p ipv4 --ip-protocol 17 -j ACCEPT",
            "ebtables --concurrent -t nat -A PREROUTING -i vnet0 -j libvirt-J-vnet0",
        ], ebtables);
    }

    [Fact]
    public void ACombinationEmitsItsJCopyThenItsPCopy()
    {
        var top = Filter("f", Rule(Accept, InOut, Mac, ("srcmacaddr", "$M")));
        var instances = FilterResolver.Resolve(new InMemoryFilterSource(), top, Params(("M", "00:00:00:00:00:01"), ("M", "00:00:00:00:00:02"))).Instances;
        var rules = DryRunRecorder.Run(Backend.ApplyNewRules("vnet0", instances)).Select(c => c.ToString())
            .Where(c => c.Contains("-A libvirt-", StringComparison.Ordinal)).ToList();
        Assert.Equal(
        [
            "ebtables --concurrent -t nat -A libvirt-J-vnet0 -d 00:00:00:00:00:01 -j ACCEPT",
            "ebtables --concurrent -t nat -A libvirt-P-vnet0 -s 00:00:00:00:00:01 -j ACCEPT",
            "ebtables --concurrent -t nat -A libvirt-J-vnet0 -d 00:00:00:00:00:02 -j ACCEPT",
            "ebtables --concurrent -t nat -A libvirt-P-vnet0 -s 00:00:00:00:00:02 -j ACCEPT",
        ], rules);
    }

    [Fact]
    public void StpInOutWithASourceMacIsRefused()
    {
        var top = Filter("f", "stp", 0, Rule(Accept, InOut, Stp, ("srcmacaddr", "01:02:03:04:05:06")));
        var instances = FilterResolver.Resolve(new InMemoryFilterSource(), top, ParameterSet.Empty).Instances;
        Assert.Throws<NwFilterException>(() => Backend.ApplyNewRules("vnet0", instances));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-j")]
    [InlineData("vnet0 -j ACCEPT")]
    [InlineData("a/b")]
    [InlineData("averyveryverylongname")]
    public void AnInvalidPortDeviceIsRefused(string portDevice)
    {
        var error = Assert.Throws<NwFilterException>(() => Backend.ApplyNewRules(portDevice, []));
        Assert.Equal(DiagnosticCategory.InvalidArgument, error.Primary.Category);
    }

    [Fact]
    public void AnEmptyRuleSetOnlyCleansUp()
    {
        var plan = Backend.ApplyNewRules("vnet0", []);
        Assert.True(plan.Transactions[0].IgnoreErrors);
        Assert.Empty(plan.Transactions[1].Commands);
        Assert.Equal(8, DryRunRecorder.Run(plan).Length);
    }

    [Fact]
    public void TearNewRulesRemovesOnlyTemporaryChains()
    {
        var lines = DryRunRecorder.Run(Backend.TearNewRules("vnet0")).Select(c => c.ToString()).ToList();
        Assert.Equal(28, lines.Count);
        Assert.All(lines, l => Assert.DoesNotContain("FO-", l));
        Assert.Contains("ebtables --concurrent -t nat -X libvirt-P-vnet0", lines);
        Assert.Contains("ip6tables -w -X HJ-vnet0", lines);
    }

    [Fact]
    public void AllTeardownRemovesBothGenerationsAndTheInPostRule()
    {
        var plan = Backend.AllTeardown("vnet0");
        Assert.True(Assert.Single(plan.Transactions).IgnoreErrors);
        var lines = DryRunRecorder.Run(plan).Select(c => c.ToString()).ToList();
        Assert.Contains("iptables -w -D libvirt-in-post -m physdev --physdev-in vnet0 -j ACCEPT", lines);
        Assert.Contains("ip6tables -w -X FO-vnet0", lines);
        Assert.Contains("ebtables --concurrent -t nat -X libvirt-O-vnet0", lines);
        Assert.Contains("ebtables --concurrent -t nat -X libvirt-J-vnet0", lines);
        Assert.DoesNotContain(lines, l => l.Contains("libvirt-in ", StringComparison.Ordinal) && l.Contains("-X", StringComparison.Ordinal));
    }

    [Fact]
    public void RemovingChainsFollowsTheJumpsListed()
    {
        var host = SimulatedHost.Empty with
        {
            EbtablesListings = System.Collections.Immutable.ImmutableDictionary<string, System.Collections.Immutable.ImmutableArray<string>>.Empty
                .Add("libvirt-I-vnet0", ["-p ARP -j I-vnet0-arp", "-j ACCEPT"])
                .Add("I-vnet0-arp", ["-j I-vnet0-arp-x"]),
        };
        var lines = DryRunRecorder.Run(Backend.AllTeardown("vnet0"), host).Select(c => c.ToString()).ToList();
        var at = lines.IndexOf("ebtables --concurrent -t nat -L I-vnet0-arp");
        Assert.True(at > 0);
        Assert.Equal(
        [
            "ebtables --concurrent -t nat -L I-vnet0-arp", "ebtables --concurrent -t nat -F I-vnet0-arp", "ebtables --concurrent -t nat -X I-vnet0-arp",
            "ebtables --concurrent -t nat -L I-vnet0-arp-x", "ebtables --concurrent -t nat -F I-vnet0-arp-x", "ebtables --concurrent -t nat -X I-vnet0-arp-x",
        ], lines.Skip(at));
    }

    [Fact]
    public void ExistingBaseChainsAreNotCreatedAgain()
    {
        var plan = Backend.ApplyNewRules("vnet0", FilterResolver.Resolve(new InMemoryFilterSource(), Filter("f", Rule(Accept, Out, All)), ParameterSet.Empty).Instances);
        var fresh = DryRunRecorder.Run(plan).Select(c => c.ToString()).ToList();
        var existing = DryRunRecorder.Run(plan, SimulatedHost.Empty with { IptablesChains = ["libvirt-in-post", "libvirt-out", "libvirt-host-in"] })
            .Select(c => c.ToString()).ToList();
        Assert.Contains("iptables -w -N libvirt-in", fresh);
        // "Chain libvirt-in-post" also marks libvirt-in as present: libvirt's prefix test.
        Assert.DoesNotContain(existing, l => l.StartsWith("iptables -w -N libvirt-", StringComparison.Ordinal));
        Assert.Equal(fresh.Count - 12, existing.Count);
    }

    [SkippableFact]
    public void TestEth0CompilesToTheReviewedTranscript()
    {
        var builtIns = Corpus.Root is null ? null : Path.Combine(Corpus.Root, "src", "nwfilter", "xml");
        Requirement.Require("corpus", builtIns is not null, "libvirt's built-in filters (clean-traffic) are read from the corpus");
        var top = NwFilterXmlReader.ReadFilter(File.ReadAllText(Repository.TestData("compiler", "test-eth0.xml"))).Value;
        var ruleset = RulesetBuilder.Build(new DirectoryFilterSource(builtIns!), top, "vnet0", PhysicalAddress.Parse("52-54-00-12-34-56"),
            ParameterSet.Empty.With("IP", "10.0.0.2"));
        Golden.AssertMatches(Repository.TestData("compiler", "test-eth0.vnet0.args"), ruleset.ToRecordedText());
    }
}
