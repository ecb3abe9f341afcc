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
/// common rules, and compare byte for byte with <c>&lt;name&gt;-linux.args</c>. The corpus is read in place.
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

        var actual = LibvirtCommonRules.Strip(Record(folder, name), out var removed);

        Assert.Equal(expected, actual);
        // The cleanup transaction is always there: stripping must have found it (a silent no-op would hide a bug).
        Assert.Contains(0, removed);
    }
}
