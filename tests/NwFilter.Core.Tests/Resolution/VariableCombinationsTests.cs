using System.Collections.Immutable;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Resolution;

public class VariableCombinationsTests
{
    // libvirt's harness variables.
    private static readonly Dictionary<string, ImmutableArray<string>> Harness = new()
    {
        ["A"] = ["1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"],
        ["B"] = ["80", "90", "80", "80"],
        ["C"] = ["1080", "1090", "1100", "1110"],
        ["S"] = ["x"],
    };

    private static List<string> Expand(params string[] accesses)
    {
        Assert.True(VariableCombinations.TryExpand([.. accesses.Select(Variable)], Harness, out var combinations, out var error), error);
        return [.. combinations.Select(c => string.Join(" ", c))];
    }

    [Fact]
    public void SameIteratorAdvancesInLockstepAndSkipsRepeatedTuples()
    {
        // $A and $B on iterator 0: (3.3.3.3, 80) appears twice and is emitted once.
        Assert.Equal(["1.1.1.1 80", "2.2.2.2 90", "3.3.3.3 80"], Expand("$A", "$B"));
    }

    [Fact]
    public void OneListAloneSkipsItsDuplicateValue()
    {
        Assert.Equal(["1.1.1.1", "2.2.2.2", "3.3.3.3"], Expand("$A"));
    }

    [Fact]
    public void DifferentIteratorsFormTheCartesianProductWithTheFirstFastest()
    {
        Assert.Equal(
            ["1.1.1.1 80", "2.2.2.2 80", "3.3.3.3 80", "1.1.1.1 90", "2.2.2.2 90", "3.3.3.3 90"],
            Expand("$A[@1]", "$B[@2]"));
    }

    [Fact]
    public void IteratorZeroComesFirstEvenWhenUsedLater()
    {
        // $B[@2] is used first, but iterator 0 ($A) is still the fastest digit.
        Assert.Equal(
            ["80 1.1.1.1", "80 2.2.2.2", "80 3.3.3.3", "90 1.1.1.1", "90 2.2.2.2", "90 3.3.3.3"],
            Expand("$B[@2]", "$A"));
    }

    [Fact]
    public void ThreeIteratorsNestInFirstUseOrder()
    {
        var combinations = Expand("$A[@1]", "$B[@2]", "$C[@3]");
        Assert.Equal(3 * 2 * 4, combinations.Count);
        Assert.Equal("1.1.1.1 80 1080", combinations[0]);
        Assert.Equal("2.2.2.2 80 1080", combinations[1]);
        Assert.Equal("1.1.1.1 90 1080", combinations[3]);
        Assert.Equal("1.1.1.1 80 1090", combinations[6]);
        Assert.Equal("3.3.3.3 90 1110", combinations[^1]);
    }

    [Fact]
    public void LockstepTuplesAreComparedAsAWhole()
    {
        // B repeats 80, but (80,1080), (90,1090), (80,1100), (80,1110) are all distinct.
        Assert.Equal(["80 1080", "90 1090", "80 1100", "80 1110"], Expand("$B[@2]", "$C[@2]"));
    }

    [Fact]
    public void OneVariableOnTwoIteratorsIsTwoIndependentDigits()
    {
        var combinations = Expand("$A[@1]", "$A[@2]");
        Assert.Equal(9, combinations.Count);
        Assert.Equal(["1.1.1.1 1.1.1.1", "2.2.2.2 1.1.1.1", "3.3.3.3 1.1.1.1", "1.1.1.1 2.2.2.2"], combinations.Take(4));
    }

    [Fact]
    public void ElementAccessIsFixed()
    {
        Assert.Equal(["2.2.2.2 80 1100"], Expand("$A[1]", "$B[2]", "$C[2]"));
        Assert.Equal(["1.1.1.1 80", "1.1.1.1 90"], Expand("$A[0]", "$B"));
    }

    [Fact]
    public void LockstepListsOfDifferentLengthsAreRefused()
    {
        Assert.False(VariableCombinations.TryExpand([Variable("$A"), Variable("$S")], Harness, out _, out var error));
        Assert.Contains("Cardinality", error);
    }

    [Fact]
    public void AccessesAreDistinctInAttributeOrder()
    {
        var rule = Rule(RuleAction.Accept, RuleDirection.Out, ProtocolKind.Sctp,
            ("dstipaddr", "$A"), ("srcipaddr", "$A"), ("srcportstart", "$B[@1]"), ("dscp", "$C[2]"));
        Assert.Equal(["$A", "$C[2]", "$B[@1]"], VariableCombinations.AccessesOf(rule).Select(a => a.ToString()));
    }
}
