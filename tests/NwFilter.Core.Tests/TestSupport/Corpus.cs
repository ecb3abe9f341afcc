namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// Where libvirt's own test corpus is: the environment variable NWFILTER_LIBVIRT_CORPUS, by default
/// <c>../shared/libvirt-nwfilter</c> beside the repository. It is read in place, never copied into the repository.
/// Tests that need it call <see cref="Require"/>, which reports them skipped (with the reason) when it is absent
/// (see <see cref="Requirement"/>).
/// </summary>
public static class Corpus
{
    public const string EnvironmentVariable = "NWFILTER_LIBVIRT_CORPUS";

    /// <summary>The corpus directory, or null when it is absent.</summary>
    public static string? Root { get; } = Locate();

    /// <summary>The corpus directory; skips the calling test when the corpus is absent.</summary>
    public static string Require()
    {
        Requirement.Require("corpus", Root is not null,
            $"libvirt's nwfilter corpus not found (set {EnvironmentVariable}, or place it at ../shared/libvirt-nwfilter beside the repository)");
        return Root!;
    }

    /// <summary>A path inside the corpus; skips the calling test when the corpus is absent.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Require(), .. parts]);

    private static string? Locate()
    {
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        var candidate = !string.IsNullOrEmpty(fromEnv)
            ? fromEnv
            : System.IO.Path.Combine(Repository.Root, "..", "shared", "libvirt-nwfilter");
        return Directory.Exists(System.IO.Path.Combine(candidate, "tests")) ? System.IO.Path.GetFullPath(candidate) : null;
    }
}

/// <summary>The repository's own files (our test data under <c>tests/data</c>).</summary>
public static class Repository
{
    /// <summary>The repository root: the nearest directory upwards that holds NwFilter.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A path under <c>tests/data</c>.</summary>
    public static string TestData(params string[] parts) => System.IO.Path.Combine([Root, "tests", "data", .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "NwFilter.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("NwFilter.sln not found above " + AppContext.BaseDirectory);
    }
}
