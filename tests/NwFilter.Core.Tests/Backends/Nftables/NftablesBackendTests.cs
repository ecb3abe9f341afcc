using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Model;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>The backend in the IFirewallBackend shape: a dry run gives the statements of a first apply, one nft command each.</summary>
public class NftablesBackendTests
{
    [Fact]
    public void ARulesetBuiltForNftablesListsTheChainsThenRunsTheStatementsOfAFirstApply()
    {
        var ruleset = RulesetBuilder.Build(NftTestFilters.Source, "test-eth0", "vnet0", PhysicalAddress.Parse("52-54-00-12-34-56"),
            ParameterSet.Empty.With("IP", "10.0.0.2"), FirewallBackendKind.Nftables);
        Assert.Equal("nftables", ruleset.Plan!.Backend);
        Assert.Equal("nft -j list chains", ruleset.Commands[0].ToString());
        var expected = File.ReadAllLines(TestSupport.Repository.TestData("nftables", "test-eth0.vnet0.nft"));
        Assert.Equal(expected, ruleset.Commands.Skip(1).Select(c => string.Join(' ', c.Arguments)));
        Assert.Contains(ruleset.Commands, c => c.Arguments.SequenceEqual(["add", "element", "bridge", "nwfilter", "from-vm", "{", "\"vnet0\"", ":", "jump", "vnet0/1/1/I", "}"]));
    }

    [Fact]
    public void TeardownOfAnUnknownPortDoesNothingAndTheSwapPhasesAreEmpty()
    {
        var backend = NftablesBackend.Instance;
        Assert.Equal(["nft -j list chains"], DryRunRecorder.Run(backend.AllTeardown("vnet0")).Select(c => c.ToString()));
        Assert.Empty(backend.TearOldRules("vnet0").Transactions);
        Assert.Empty(backend.TearNewRules("vnet0").Transactions);
    }

    [Fact]
    public void WordsSplitOutsideQuotesOnly()
    {
        Assert.Equal(["add", "rule", "x", "accept", "comment", "\"a b  c\""], NftablesBackend.Words("add rule x accept comment \"a b  c\"").ToArray());
    }
}
