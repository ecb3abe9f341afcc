using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.EbIpTables;

/// <summary>
/// libvirt's nwfilterxml2firewalltest, case by case: resolve <c>&lt;name&gt;.xml</c> (filterrefs from the same folder)
/// with the harness's variables on vnet0 without a MAC, compile, record as the dry-run recorder prints, strip the
/// common rules (asserting which of them each case had), and compare byte for byte with <c>&lt;name&gt;-linux.args</c>.
/// The corpus is read in place.
/// </summary>
public class LibvirtFirewallCorpusTests
{
    private static readonly ParameterSet HarnessVariables = ParameterSet.Empty
        .With("IPSETNAME", "tck_test")
        .With("A", ["1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"])
        .With("B", ["80", "90", "80", "80"])
        .With("C", ["1080", "1090", "1100", "1110"]);

    /// <summary>What the compiler records for one case, before stripping.</summary>
    internal static string Record(string folder, string name)
    {
        var source = new DirectoryFilterSource(folder);
        var resolution = FilterResolver.Resolve(source, name, HarnessVariables);
        Assert.Equal(ResolutionStatus.Resolved, resolution.Status);
        var plan = EbIpTablesBackend.Instance.ApplyNewRules("vnet0", resolution.Instances);
        return DryRunRecorder.Record(plan, SimulatedHost.Empty);
    }

    [SkippableTheory]
    [InlineData("ah")]
    [InlineData("ah-ipv6")]
    [InlineData("all")]
    [InlineData("all-ipv6")]
    [InlineData("arp")]
    [InlineData("comment")]
    [InlineData("conntrack")]
    [InlineData("esp")]
    [InlineData("esp-ipv6")]
    [InlineData("example-1")]
    [InlineData("example-2")]
    [InlineData("hex-data")]
    [InlineData("icmp-direction2")]
    [InlineData("icmp-direction3")]
    [InlineData("icmp-direction")]
    [InlineData("icmp")]
    [InlineData("icmpv6")]
    [InlineData("igmp")]
    [InlineData("ip")]
    [InlineData("ipset")]
    [InlineData("ipt-no-macspoof")]
    [InlineData("ipv6")]
    [InlineData("iter1")]
    [InlineData("iter2")]
    [InlineData("iter3")]
    [InlineData("mac")]
    [InlineData("rarp")]
    [InlineData("sctp")]
    [InlineData("sctp-ipv6")]
    [InlineData("stp")]
    [InlineData("target2")]
    [InlineData("target")]
    [InlineData("tcp")]
    [InlineData("tcp-ipv6")]
    [InlineData("udp")]
    [InlineData("udp-ipv6")]
    [InlineData("udplite")]
    [InlineData("udplite-ipv6")]
    [InlineData("vlan")]
    public void MatchesLibvirtsRecordedCommands(string name)
    {
        var folder = Corpus.Path("tests", "nwfilterxml2firewalldata");
        var expected = File.ReadAllText(Path.Combine(folder, name + "-linux.args"));

        var recorded = Record(folder, name);
        var actual = LibvirtCommonRules.Strip(recorded, out var removed);

        // libvirt's expected output has its common blocks stripped, so a block we failed to emit would be invisible
        // below: assert that exactly the blocks libvirt emitted for this case were found and removed.
        LibvirtCommonRules.AssertRemoved(name, recorded, removed, LibvirtCommonRules.ExpectedBlocks(expected));
        Assert.Equal(expected, actual);
    }

    [SkippableFact]
    public void TheStripCheckNamesTheCaseAndTheBlockThatIsMissingOrInAnotherShape()
    {
        var folder = Corpus.Path("tests", "nwfilterxml2firewalldata");
        var recorded = Record(folder, "tcp");
        var expected = LibvirtCommonRules.ExpectedBlocks(File.ReadAllText(Path.Combine(folder, "tcp-linux.args")));
        Assert.Equal([0, 2, 5, 6], expected);

        var create = LibvirtCommonRules.Blocks[6];
        var second = LibvirtCommonRules.Commands(create)[1];
        var reshaped = recorded.Replace(create, create.Replace(second, "", StringComparison.Ordinal), StringComparison.Ordinal);
        LibvirtCommonRules.Strip(reshaped, out var removed);
        var e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => LibvirtCommonRules.AssertRemoved("tcp", reshaped, removed, expected));
        Assert.Contains("tcp: block 'iptables: create the base and port chains' was not removed: it is there in a different shape: its command 2", e.Message);

        var missing = recorded.Replace(LibvirtCommonRules.Blocks[5], "", StringComparison.Ordinal);
        LibvirtCommonRules.Strip(missing, out removed);
        e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => LibvirtCommonRules.AssertRemoved("tcp", missing, removed, expected));
        Assert.Contains("tcp: block 'iptables: remove the old port chains' was not removed: it is missing", e.Message);
    }
}
