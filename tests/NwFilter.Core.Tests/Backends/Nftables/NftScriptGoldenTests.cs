using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// The whole nft transaction for known filters, compared with our reviewed goldens under tests/data/nftables
/// (NWFILTER_REGENERATE_GOLDENS=1 rewrites the ones that differ and fails the run for review): a first apply onto an empty firewall, a replace, a removal.
/// </summary>
public class NftScriptGoldenTests
{
    private static string Golden(string name) => Repository.TestData("nftables", name);

    [Fact]
    public void CleanTrafficOnAnEmptyFirewall()
    {
        var ruleset = NftTestFilters.Compile("clean-traffic", "vnet0", "52:54:00:12:34:56", "10.0.0.2");
        var script = NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(ruleset)]);
        TestSupport.Golden.AssertMatches(Golden("clean-traffic.vnet0.nft"), script.Text);
    }

    [Fact]
    public void TestEth0OnAnEmptyFirewall()
    {
        var ruleset = NftTestFilters.Compile("test-eth0", "vnet0", "52:54:00:12:34:56", "10.0.0.2");
        var script = NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(ruleset)]);
        TestSupport.Golden.AssertMatches(Golden("test-eth0.vnet0.nft"), script.Text);
    }
}
