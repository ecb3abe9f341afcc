using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Graph;

public class FilterGraphTests
{
    [Fact]
    public void FlatteningIsDepthFirstInDocumentOrder()
    {
        var leaf = Filter("leaf", Rule(Accept, Out, Arp, 1));
        var middle = Filter("middle", "ipv4", -700, Rule(Accept, Out, Ip, 2), Ref("leaf"), Rule(Accept, Out, Ip, 3));
        var top = Filter("top", Rule(Accept, Out, Mac, 0), Ref("middle"), Rule(Accept, Out, Mac, 4), Ref("leaf"));

        var result = FilterGraph.Flatten(new InMemoryFilterSource(leaf, middle), top, ParameterSet.Empty);

        Assert.Empty(result.Problems);
        Assert.Equal([0, 2, 1, 3, 4, 1], result.Rules.Select(r => r.Rule.Priority));
        Assert.Equal(["top", "middle", "leaf", "middle", "top", "leaf"], result.Rules.Select(r => r.Filter.Name));
        Assert.Equal(["top", "middle", "leaf"], result.Rules[2].Path.ToArray());
    }

    [Fact]
    public void EachMissingFilterIsReportedOncePerReferrer()
    {
        var top = Filter("top", Ref("gone"), Ref("gone"), Ref("other"));
        var result = FilterGraph.Flatten(new InMemoryFilterSource(), top, ParameterSet.Empty);
        Assert.Equal(["gone", "other"], result.Problems.Select(p => p.Value));
        Assert.All(result.Problems, p => Assert.Equal(DiagnosticCategory.ObjectNotFound, p.Category));
    }

    [Fact]
    public void DefiningAFilterThatClosesALoopIsAnError()
    {
        // The define-time check the store runs (FilterStore: FindLoop over the store's view, then LoopError).
        var source = new InMemoryFilterSource(Filter("b", Ref("c")), Filter("c", Ref("a")));
        var candidate = Filter("a", Ref("b"));
        var loop = FilterGraph.FindLoop(candidate, source.Find);
        Assert.NotNull(loop);
        Assert.Equal(new[] { "a", "b", "c", "a" }, loop.Value.ToArray());
        var error = FilterGraph.LoopError(candidate.Name, loop.Value);
        Assert.Equal(DiagnosticSeverity.Error, error.Severity);
        Assert.Equal(FilterGraph.FilterLoopCode, error.Code);
        Assert.Contains("a -> b -> c -> a", error.Message);
    }

    [Fact]
    public void AReferenceToAFilterNotYetDefinedIsNoLoop()
    {
        var loop = FilterGraph.FindLoop(Filter("a", Ref("later"), Ref("a-self-free")), new InMemoryFilterSource().Find);
        Assert.Null(loop);
    }

    [Fact]
    public void ADirectSelfReferenceIsALoop()
    {
        var loop = FilterGraph.FindLoop(Filter("a", Ref("a")), new InMemoryFilterSource().Find);
        Assert.NotNull(loop);
        Assert.Equal(new[] { "a", "a" }, loop.Value.ToArray());
    }
}
