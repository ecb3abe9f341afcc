namespace NwFilter.Core.Tests.TestSupport;

/// <summary>Our own golden files: compared byte for byte; NWFILTER_REGENERATE=1 rewrites them for review.</summary>
public static class Golden
{
    public const string RegenerateVariable = "NWFILTER_REGENERATE";

    public static void AssertMatches(string path, string actual)
    {
        if (Environment.GetEnvironmentVariable(RegenerateVariable) == "1")
        {
            File.WriteAllText(path, actual);
        }
        Assert.True(File.Exists(path), $"golden file {path} is missing (run with {RegenerateVariable}=1 to create it, then review it)");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}
