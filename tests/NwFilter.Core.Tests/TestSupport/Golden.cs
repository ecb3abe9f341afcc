namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// Our own golden files, compared byte for byte. <c>NWFILTER_REGENERATE_GOLDENS=1</c> rewrites every golden that
/// differs (or is missing), and the test that rewrote it fails with "regenerated N goldens: review and rerun": a run
/// that regenerated anything never passes, so a regenerated golden is always reviewed before it counts.
/// </summary>
public static class Golden
{
    public const string RegenerateVariable = "NWFILTER_REGENERATE_GOLDENS";

    private static readonly GoldenFiles Run = new(Environment.GetEnvironmentVariable(RegenerateVariable) == "1");

    /// <summary>Asserts that <paramref name="path"/> holds exactly <paramref name="actual"/> (or regenerates it and fails).</summary>
    public static void AssertMatches(string path, string actual) => Run.AssertMatches(path, actual);
}

/// <summary>The golden comparison of one test run: whether it regenerates, and how many goldens it has rewritten.</summary>
internal sealed class GoldenFiles(bool regenerate)
{
    private int _regenerated;

    public void AssertMatches(string path, string actual)
    {
        var current = File.Exists(path) ? File.ReadAllText(path) : null;
        if (regenerate && current != actual)
        {
            File.WriteAllText(path, actual);
            var count = Interlocked.Increment(ref _regenerated);
            Assert.Fail($"regenerated {count} goldens: review and rerun (this test rewrote {path}; unset {Golden.RegenerateVariable} to compare)");
        }
        Assert.True(current is not null, $"golden file {path} is missing (run with {Golden.RegenerateVariable}=1 to create it, then review it)");
        Assert.Equal(current, actual);
    }
}
