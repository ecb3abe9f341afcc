using NwFilter.Bench.Scenarios;

namespace NwFilter.Bench;

/// <summary>Every scenario, by name. Add yours here (one line).</summary>
public static class ScenarioRegistry
{
    public static IReadOnlyList<IScenario> All { get; } =
    [
        new XmlScenario(),
    ];

    public static IScenario? Find(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));
}
