namespace NwFilter.Bench;

/// <summary>One benchmark scenario.</summary>
public interface IScenario
{
    string Name { get; }
    string Description { get; }

    /// <summary>Runs the scenario; returns the process exit code.</summary>
    int Run(string[] args);
}

/// <summary>Every scenario of this program: the non-abstract <see cref="IScenario"/> classes of this assembly.</summary>
public static class ScenarioRegistry
{
    public static IReadOnlyList<IScenario> All { get; } = typeof(ScenarioRegistry).Assembly.GetTypes()
        .Where(t => typeof(IScenario).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
        .Select(t => (IScenario)Activator.CreateInstance(t)!)
        .OrderBy(s => s.Name, StringComparer.Ordinal)
        .ToList();
}

/// <summary>Where the repository and libvirt's corpus are.</summary>
public static class Locations
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>libvirt's corpus: NWFILTER_LIBVIRT_CORPUS, else ../shared/libvirt-nwfilter beside the repository.</summary>
    public static string Corpus =>
        Environment.GetEnvironmentVariable("NWFILTER_LIBVIRT_CORPUS") is { Length: > 0 } fromEnv
            ? fromEnv
            : Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "libvirt-nwfilter"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NwFilter.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("NwFilter.sln not found above " + AppContext.BaseDirectory);
    }
}
