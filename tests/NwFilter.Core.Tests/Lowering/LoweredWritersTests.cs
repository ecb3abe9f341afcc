using System.Reflection;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.Backends.Nftables;
using NwFilter.Core.Tests.TestSupport;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Lowering;

/// <summary>
/// The point of the lowering: both backends' writers take the lowered rule and nothing else of libvirt's semantics,
/// so a semantic fix in <see cref="RuleLowering"/> reaches both, and both get the same lowered rules for a port.
/// </summary>
public class LoweredWritersTests
{
    private static readonly Type[] Writers = [typeof(EbtablesRuleText), typeof(IptablesRuleText), typeof(NftBridgeRuleText), typeof(NftInetRuleText)];

    [Fact]
    public void EveryWriterBuildsFromALoweredRuleAndTakesNoRuleOrRuleInstance()
    {
        foreach (var writer in Writers)
        {
            var methods = writer.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly);
            var build = Assert.Single(methods, m => m.Name == "Build");
            Assert.Equal(typeof(LoweredRule), build.GetParameters()[0].ParameterType);
            Assert.All(methods.SelectMany(m => m.GetParameters()), p =>
                Assert.False(p.ParameterType == typeof(FilterRule) || p.ParameterType == typeof(RuleInstance),
                    $"{writer.Name}.{p.Member.Name} takes a {p.ParameterType.Name}: writers must read the lowered rule only"));
        }
    }

    private static LoweredRule LowerOne(FilterRule rule, int copy = 0)
    {
        var port = RuleLowering.Lower(FilterResolver.Resolve(new InMemoryFilterSource([]), Filter("f", rule), ParameterSet.Empty).Instances);
        return port.Rules.ElementAt(copy);
    }

    [Fact]
    public void BothEthernetWritersPrintWhatTheLoweredRuleSaysNotWhatTheRuleSays()
    {
        // The rule tests the source MAC; the lowered rule given to the writers says destination MAC, negated.
        var lowered = LowerOne(Rule(Accept, Out, Mac, ("srcmacaddr", "52:54:00:00:00:01")));
        var changed = lowered with { Matches = [lowered.Matches[0] with { Field = MatchField.DestinationMac, Negated = true }], Verdict = LoweredVerdict.Return };
        Assert.Equal("--concurrent -t nat -A J-vnet0 -d ! 52:54:00:00:00:01 -j RETURN", string.Join(' ', EbtablesRuleText.Build(changed, "J-vnet0").Arguments));
        Assert.Equal("ether daddr != 52:54:00:00:00:01 return", Assert.Single(NftBridgeRuleText.Build(changed)).Match + " return");
        Assert.Same(changed.Origin, EbtablesRuleText.Build(changed, "J-vnet0").Origin);
    }

    [Fact]
    public void BothLayerFourWritersPrintTheLoweredCopysStateAndOrientation()
    {
        var lowered = LowerOne(Rule(Accept, Out, Tcp, ("dstportstart", "22")));
        var changed = lowered with
        {
            Matches = [lowered.Matches[0] with { Field = MatchField.SourcePort }],
            State = new ConnectionStateMatch("ESTABLISHED", ConnectionDirection.Reply),
            Verdict = LoweredVerdict.Drop,
        };
        Assert.Equal("iptables -w -A FJ-vnet0 -p tcp --sport 22 -m conntrack --ctstate ESTABLISHED -m conntrack --ctdir Reply -j DROP",
            Assert.Single(IptablesRuleText.Build(changed, "vnet0")).ToString());
        var nft = Assert.Single(NftInetRuleText.Build(changed));
        Assert.Equal(("meta nfproto ipv4 meta l4proto tcp tcp sport 22 ct state established ct direction reply", NftVerdictKind.Drop), (nft.Match, nft.Verdict.Kind));
    }

    [Fact]
    public void TheArpMaskFixReachesNftablesToo()
    {
        // A destination IP without its own mask and no source IP is /32 in both backends (libvirt's ebtables rule).
        var rule = Rule(Accept, Out, Arp, ("arpsrcipmask", "16"), ("arpdstipaddr", "10.1.0.0"));
        var lowered = LowerOne(rule);
        Assert.Contains("--arp-ip-dst 10.1.0.0/32", string.Join(' ', EbtablesRuleText.Build(lowered, "J-vnet0").Arguments), StringComparison.Ordinal);
        Assert.Contains("arp daddr ip 10.1.0.0 ", Assert.Single(NftBridgeRuleText.Build(lowered)).Match + " ", StringComparison.Ordinal);
    }

    private static readonly ParameterSet HarnessVariables = ParameterSet.Empty
        .With("IPSETNAME", "tck_test")
        .With("A", ["1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"])
        .With("B", ["80", "90", "80", "80"])
        .With("C", ["1080", "1090", "1100", "1110"]);

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string> { "builtin:clean-traffic", "builtin:test-eth0" };
        var folder = Corpus.Root is null ? null : Path.Combine(Corpus.Root, "tests", "nwfilterxml2firewalldata");
        if (folder is not null && Directory.Exists(folder))
        {
            foreach (var args in Directory.GetFiles(folder, "*-linux.args").Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetFileName(args)[..^"-linux.args".Length]);
            }
        }
        return data;
    }

    /// <summary>Per chain (and IP family), the rule instances in the order a backend's rules came from them.</summary>
    private static Dictionary<string, List<int>> Sequences(IEnumerable<(string Side, RuleOrigin Origin)> rules)
    {
        var result = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var (side, origin) in rules)
        {
            var key = side + (origin.Instance.Layer == ProtocolLayer.IPv6 ? "/6" : "");
            if (!result.TryGetValue(key, out var list))
            {
                result[key] = list = [];
            }
            // An nft STP rule with config fields is two kernel rules of one lowered rule; count the lowered rule once.
            if (list.Count == 0 || list[^1] != origin.Ordinal || origin.Instance.Rule.Protocol != Stp)
            {
                list.Add(origin.Ordinal);
            }
        }
        return result;
    }

    /// <summary>The chain of an xtables rule command as side/suffix (<c>J-vnet0-arp</c> is FromVm/arp).</summary>
    private static string XtablesChain(FirewallCommand command)
    {
        var chain = command.Arguments[command.Arguments.IndexOf("-A") + 1];
        foreach (var (prefix, side) in new[] { ("FJ-", "ForwardFromVm"), ("FP-", "ForwardToVm"), ("HJ-", "HostFromVm"), ("libvirt-J-", "FromVm"), ("libvirt-P-", "ToVm") })
        {
            if (chain.StartsWith(prefix, StringComparison.Ordinal))
            {
                return side + "/root";
            }
        }
        return chain[0] switch
        {
            'J' => "FromVm/" + chain["J-vnet0-".Length..],
            'P' => "ToVm/" + chain["P-vnet0-".Length..],
            _ => throw new InvalidOperationException($"unexpected chain {chain}"),
        };
    }

    /// <summary>The chain of an nft rule as side/suffix (<c>I-arp</c> is FromVm/arp).</summary>
    private static string NftChainName(NftChain chain) => chain.Role switch
    {
        "FI" => "ForwardFromVm/root",
        "FO" => "ForwardToVm/root",
        "HI" => "HostFromVm/root",
        "I" => "FromVm/root",
        "O" => "ToVm/root",
        var role when role.StartsWith("I-", StringComparison.Ordinal) => "FromVm/" + role[2..],
        var role when role.StartsWith("O-", StringComparison.Ordinal) => "ToVm/" + role[2..],
        var role => throw new InvalidOperationException($"unexpected role {role}"),
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void BothBackendsEmitTheSameRuleInstancesIntoTheSameChainsInTheSameOrder(string name)
    {
        IReadOnlyList<RuleInstance> instances;
        if (name.StartsWith("builtin:", StringComparison.Ordinal))
        {
            var filter = NftTestFilters.Source.Find(name["builtin:".Length..])!;
            instances = FilterResolver.Resolve(NftTestFilters.Source, filter, ParameterSet.Empty.With("IP", "10.0.0.2"),
                System.Net.NetworkInformation.PhysicalAddress.Parse("52-54-00-12-34-56")).Instances;
        }
        else
        {
            var folder = Corpus.Path("tests", "nwfilterxml2firewalldata");
            instances = FilterResolver.Resolve(new DirectoryFilterSource(folder), name, HarnessVariables).Instances;
        }

        NftPortRuleset nft;
        try
        {
            nft = NftablesCompiler.Compile("vnet0", instances);
        }
        catch (NwFilterException e) when (NftParityTests.Refused.ContainsKey(name))
        {
            // Nothing to compare: the case is one nftables refuses, and for the reason the parity test expects.
            Assert.Equal(NftParityTests.Refused[name], e.Primary.Code);
            return;
        }
        var plan = EbIpTablesBackend.Instance.ApplyNewRules("vnet0", instances);
        var xtables = DryRunRecorder.Run(plan, SimulatedHost.Empty).Where(c => c.Origin is not null).ToList();
        Assert.NotEmpty(xtables);
        Assert.All(xtables, c => Assert.Contains("-A", c.Arguments));

        var expected = Sequences(xtables.Select(c => (XtablesChain(c), c.Origin!)));
        var actual = Sequences(nft.Chains.SelectMany(c => c.Rules.Where(r => r.Origin is not null).Select(r => (NftChainName(c), r.Origin!))));
        Assert.Equal(expected.OrderBy(p => p.Key).Select(p => $"{p.Key}: {string.Join(',', p.Value)}"),
                     actual.OrderBy(p => p.Key).Select(p => $"{p.Key}: {string.Join(',', p.Value)}"));
    }
}
