namespace NwFilter.Core.Tests.TestSupport;

public class RequirementTests
{
    [Fact]
    public void AnAbsentResourceSkipsWithItsNameAndReason()
    {
        var e = Assert.Throws<SkipException>(() => Requirement.Require("corpus", false, "not here", Requirement.Parse("")));
        Assert.Equal("needs corpus: not here", e.Message);
    }

    [Theory]
    [InlineData("corpus")]
    [InlineData("tools corpus")]
    [InlineData("root,corpus")]
    [InlineData("all")]
    public void AnAbsentResourceTheRunAssertsFailsInsteadOfSkipping(string asserted)
    {
        var e = Assert.Throws<Xunit.Sdk.XunitException>(() => Requirement.Require("corpus", false, "not here", Requirement.Parse(asserted)));
        Assert.Contains("'corpus' is present, but this test would have skipped: not here", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAssertionOfAnotherResourceStillSkips() =>
        Assert.Throws<SkipException>(() => Requirement.Require("corpus", false, "not here", Requirement.Parse("root tools")));

    [Fact]
    public void APresentResourceNeitherSkipsNorFails() => Requirement.Require("corpus", true, "unused", Requirement.Parse("all"));

    [Fact]
    public void AnUnknownResourceNameIsAMistakeInTheTest() =>
        Assert.Throws<ArgumentException>(() => Requirement.Require("kvm", false, "x", Requirement.Parse("")));
}
