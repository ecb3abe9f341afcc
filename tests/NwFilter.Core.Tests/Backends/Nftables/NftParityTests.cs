using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// The nftables compiler against the reference (the ebtables/iptables backend, byte-exact with libvirt) over libvirt's
/// 39 test cases and our built-in filters: every chain gets the same rules in the same order with the same verdicts.
/// A rule nft cannot express must be refused with one of the known codes.
/// </summary>
public class NftParityTests
{
    /// <summary>The variables libvirt's nwfilterxml2firewalltest binds.</summary>
    internal static readonly ParameterSet HarnessVariables = ParameterSet.Empty
        .With("IPSETNAME", "tck_test")
        .With("A", ["1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"])
        .With("B", ["80", "90", "80", "80"])
        .With("C", ["1080", "1090", "1100", "1110"]);

    public static TheoryData<string> CorpusCases()
    {
        var data = new TheoryData<string>();
        var folder = Corpus.Root is null ? null : Path.Combine(Corpus.Root, "tests", "nwfilterxml2firewalldata");
        if (folder is null || !Directory.Exists(folder))
        {
            data.Add("(corpus absent)");
            return data;
        }
        foreach (var args in Directory.GetFiles(folder, "*-linux.args").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(args)[..^"-linux.args".Length]);
        }
        return data;
    }

    /// <summary>What each case is expected to be refused for (everything else must compile).</summary>
    internal static readonly Dictionary<string, string> Refused = new(StringComparer.Ordinal)
    {
        ["ipset"] = NftablesCodes.IpSetUnsupported,
        ["comment"] = NftablesCodes.CommentNotWritable,
        ["arp"] = NftablesCodes.MatchUnsupported,
    };

    internal static IReadOnlyList<RuleInstance> CorpusInstances(string name)
    {
        var folder = Corpus.Path("tests", "nwfilterxml2firewalldata");
        var resolution = FilterResolver.Resolve(new DirectoryFilterSource(folder), name, HarnessVariables);
        Assert.Equal(ResolutionStatus.Resolved, resolution.Status);
        return resolution.Instances;
    }

    [SkippableTheory]
    [MemberData(nameof(CorpusCases))]
    public void EveryLibvirtCaseCompilesToTheReferenceChainsOrIsRefusedWithAKnownCode(string name)
    {
        Requirement.Require("corpus", name != "(corpus absent)", "libvirt's nwfilter corpus is absent");
        var instances = CorpusInstances(name);
        NftPortRuleset ruleset;
        try
        {
            ruleset = NftablesCompiler.Compile("vnet0", instances);
        }
        catch (NwFilterException e)
        {
            Assert.True(Refused.TryGetValue(name, out var code), $"{name} was refused unexpectedly: {e.Message}");
            Assert.Equal(code, e.Primary.Code);
            return;
        }
        Assert.False(Refused.ContainsKey(name), $"{name} was expected to be refused");
        AssertSameChains(instances, ruleset);
    }

    public static TheoryData<string> BuiltIns() => [.. Core.BuiltIn.BuiltInFilters.Names, "test-eth0"];

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void EveryBuiltInFilterCompilesToTheReferenceChains(string name)
    {
        var resolution = FilterResolver.Resolve(NftTestFilters.Source, name,
            ParameterSet.Empty.With("IP", ["10.0.0.2", "10.0.0.3"]).With("IPV6", "fd00::2").With("DHCPSERVER", name.Contains("dhcpv6", StringComparison.Ordinal) ? "fd00::1" : "10.0.0.1")
                .With("GATEWAY_MAC", "52:54:00:00:00:01").With("CTRL_IP_LEARNING", "none"),
            System.Net.NetworkInformation.PhysicalAddress.Parse("52-54-00-12-34-56"));
        AssertSameChains(resolution.Instances, NftablesCompiler.Compile("vnet0", resolution.Instances));
    }

    private static void AssertSameChains(IReadOnlyList<RuleInstance> instances, NftPortRuleset ruleset)
    {
        var reference = Reference(instances);
        var ours = Ours(ruleset);
        Assert.Equal(reference.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (chain, verdicts) in reference)
        {
            Assert.True(verdicts.SequenceEqual(ours[chain]), $"{chain}: reference [{string.Join(", ", verdicts)}], nft [{string.Join(", ", ours[chain])}]");
        }
    }

    /// <summary>The reference's rules, as verdicts per chain: ebtables J/P chains as I/O roles, iptables and ip6tables FJ/FP/HJ as FI/FO/HI per family.</summary>
    private static Dictionary<string, List<string>> Reference(IReadOnlyList<RuleInstance> instances)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var commands = DryRunRecorder.Run(EbIpTablesBackend.Instance.ApplyNewRules("vnet0", instances));
        foreach (var command in commands)
        {
            var args = command.Arguments;
            var append = args.IndexOf("-A");
            var jump = args.LastIndexOf("-j") is var j && j >= 0 ? j : args.LastIndexOf("-g");
            if (append < 0 || jump < 0)
            {
                continue;
            }
            var chain = args[append + 1];
            var target = args[jump + 1];
            string? key = command.Program switch
            {
                FirewallCommand.Ebtables => EbRole(chain),
                FirewallCommand.Iptables or FirewallCommand.Ip6tables when chain is "FJ-vnet0" or "FP-vnet0" or "HJ-vnet0" =>
                    (chain[0] == 'H' ? "HI" : chain[1] == 'J' ? "FI" : "FO") + (command.Program == FirewallCommand.Iptables ? " ipv4" : " ipv6"),
                _ => null,
            };
            if (key is null)
            {
                continue;
            }
            var verdict = target switch
            {
                "ACCEPT" => "accept",
                "DROP" => "drop",
                "REJECT" => "reject",
                "RETURN" => "return",
                "CONTINUE" => "continue",
                _ => "jump " + EbRole(target),
            };
            if (!result.TryGetValue(key, out var list))
            {
                result[key] = list = [];
            }
            list.Add(verdict);
        }
        return result;
    }

    private static string? EbRole(string chain) => chain switch
    {
        "libvirt-J-vnet0" => "I",
        "libvirt-P-vnet0" => "O",
        _ when chain.StartsWith("J-vnet0-", StringComparison.Ordinal) => NftNames.SubChainRole("I", chain["J-vnet0-".Length..]),
        _ when chain.StartsWith("P-vnet0-", StringComparison.Ordinal) => NftNames.SubChainRole("O", chain["P-vnet0-".Length..]),
        _ => null,
    };

    private static Dictionary<string, List<string>> Ours(NftPortRuleset ruleset)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var chain in ruleset.Chains)
        {
            foreach (var rule in chain.Rules)
            {
                if (rule.Match.Contains("@nh,48,8 != 0", StringComparison.Ordinal))
                {
                    continue; // the first half of a split STP rule (ebtables: one rule)
                }
                var key = chain.Family == NftFamily.Bridge ? chain.Role
                    : chain.Role + (rule.Match.StartsWith("meta nfproto ipv6", StringComparison.Ordinal) ? " ipv6" : " ipv4");
                if (!result.TryGetValue(key, out var list))
                {
                    result[key] = list = [];
                }
                list.Add(rule.Verdict.Kind == NftVerdictKind.Jump ? "jump " + rule.Verdict.Target : rule.Verdict.Kind.ToString().ToLowerInvariant());
            }
        }
        return result;
    }
}
