using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Graph;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>The provenance comment of nft rules, and mapping the kernel's rules back (docs/design/nftables.md: provenance).</summary>
public class NftProvenanceTests
{
    private static RuleOrigin Origin(string filter, int priority, int ordinal = 3) =>
        new(ordinal, new RuleInstance(filter, "root", 0, priority, new FilterRule(Accept, Out, Mac)));

    [Fact]
    public void TheCommentCarriesOrdinalPriorityFilterAndTheRulesOwnComment()
    {
        Assert.Equal("nwf:3 -500 clean-traffic", NftProvenance.Comment(Origin("clean-traffic", -500), null));
        Assert.Equal("nwf:3 500 f allow ssh", NftProvenance.Comment(Origin("f", 500), "allow ssh"));
        Assert.True(NftProvenance.TryParse("nwf:3 500 f allow ssh", out var parsed));
        Assert.Equal(new NftCommentProvenance(3, 500, "f", false, "allow ssh"), parsed);
        Assert.False(NftProvenance.TryParse("allow ssh", out _));
        Assert.False(NftProvenance.TryParse("nwf:x 500 f", out _));
    }

    [Fact]
    public void AFilterNameWithBlanksQuotesOrNonAsciiIsEscapedAndReadBackExactly()
    {
        const string name = "my \"odd\" 100%*filtré";
        var comment = NftProvenance.Comment(Origin(name, 7), "note");
        Assert.Equal("nwf:3 7 my%20%22odd%22%20100%25%2Afiltr%C3%A9 note", comment);
        Assert.DoesNotContain('"', comment);
        Assert.True(NftProvenance.TryParse(comment, out var parsed));
        Assert.Equal((name, false, "note"), (parsed!.FilterName, parsed.NameTruncated, parsed.UserComment));
    }

    [Fact]
    public void TheCommentNeverExceedsNftsLimitTheUserCommentThenTheNameIsCut()
    {
        var userCut = NftProvenance.Comment(Origin("f", 500), new string('é', 64));
        Assert.Equal(NftValues.MaxCommentBytes, System.Text.Encoding.UTF8.GetByteCount(userCut));
        Assert.StartsWith("nwf:3 500 f éé", userCut, StringComparison.Ordinal);

        var longName = new string('a', 150) + "%";
        var nameCut = NftProvenance.Comment(Origin(longName, 500), "dropped");
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(nameCut) <= NftValues.MaxCommentBytes);
        Assert.True(NftProvenance.TryParse(nameCut, out var parsed));
        Assert.True(parsed!.NameTruncated);
        Assert.StartsWith(parsed.FilterName, longName, StringComparison.Ordinal);
        Assert.Null(parsed.UserComment);
    }

    private const string KernelJson = """
        {"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
          {"table": {"family": "bridge", "name": "nwfilter", "handle": 1}},
          {"rule": {"family": "bridge", "table": "nwfilter", "chain": "prerouting", "handle": 4, "expr": []}},
          {"rule": {"family": "bridge", "table": "nwfilter", "chain": "vnet0/1/2/I", "handle": 9, "expr": [], "comment": "nwf:0 500 f"}},
          {"rule": {"family": "bridge", "table": "nwfilter", "chain": "vnet0/1/2/I", "handle": 10, "expr": [], "comment": "nwf:1 700 f"}},
          {"rule": {"family": "bridge", "table": "nwfilter", "chain": "vnet0/1/2/I", "handle": 11, "expr": [], "comment": "someone else's"}},
          {"rule": {"family": "bridge", "table": "nwfilter", "chain": "vnet1/2/1/I", "handle": 12, "expr": [], "comment": "nwf:0 500 f"}}]}
        """;

    [Fact]
    public void MapGivesEachRuleOfThePortItsOriginAndNoneToUnknownOrStaleComments()
    {
        var resolution = FilterResolver.Resolve(new InMemoryFilterSource([]),
            Filter("f", Rule(Accept, Out, Mac, ("srcmacaddr", "52:54:00:00:00:01")), Rule(Drop, Out, Mac, 600)), ParameterSet.Empty);
        var compiled = NftablesCompiler.Compile("vnet0", resolution);
        var mapped = NftProvenance.Map(compiled, NftProvenance.ReadRules(KernelJson));

        Assert.Equal([9L, 10, 11], mapped.Select(m => m.Rule.Handle)); // only vnet0's chains, not the base chain or vnet1's
        Assert.All(mapped, m => Assert.Equal("I", m.Role));
        Assert.Same(resolution.Instances[0], mapped[0].Origin!.Instance);
        // 'nwf:1 700 f' names ordinal 1, but this compile's ordinal 1 has priority 600: stale, so no origin rather than a wrong one.
        Assert.Null(mapped[1].Origin);
        Assert.Null(mapped[2].Origin);
    }

    [Fact]
    public void ReadRulesRefusesTextThatIsNotNftJson() =>
        Assert.Throws<FormatException>(() => NftProvenance.ReadRules("{\"rules\": []}"));
}
