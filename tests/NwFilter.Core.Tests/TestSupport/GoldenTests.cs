namespace NwFilter.Core.Tests.TestSupport;

public class GoldenTests
{
    [Fact]
    public void RegeneratingRewritesADifferingGoldenAndFailsWithTheCount()
    {
        using var dir = new TempDirectory();
        var first = dir.Combine("a.txt");
        var second = dir.Combine("b.txt");
        File.WriteAllText(first, "old");
        var run = new GoldenFiles(regenerate: true);

        var e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => run.AssertMatches(first, "new"));
        Assert.StartsWith("regenerated 1 goldens: review and rerun", e.Message);
        Assert.Equal("new", File.ReadAllText(first));

        e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => run.AssertMatches(second, "created"));
        Assert.StartsWith("regenerated 2 goldens: review and rerun", e.Message);
        Assert.Equal("created", File.ReadAllText(second));
    }

    [Fact]
    public void RegeneratingLeavesAnEqualGoldenAloneAndPasses()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("a.txt");
        File.WriteAllText(path, "same");
        var written = File.GetLastWriteTimeUtc(path);

        new GoldenFiles(regenerate: true).AssertMatches(path, "same");

        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public void ComparingNeverWritesAndFailsOnADifferenceOrAMissingGolden()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("a.txt");
        var run = new GoldenFiles(regenerate: false);

        var e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => run.AssertMatches(path, "x"));
        Assert.Contains($"run with {Golden.RegenerateVariable}=1", e.Message);
        Assert.False(File.Exists(path));

        File.WriteAllText(path, "old");
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => run.AssertMatches(path, "new"));
        Assert.Equal("old", File.ReadAllText(path));
    }
}
