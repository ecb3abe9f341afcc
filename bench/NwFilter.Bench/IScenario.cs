namespace NwFilter.Bench;

/// <summary>One benchmark scenario. Add a class under Scenarios/ and register it in <see cref="ScenarioRegistry"/>.</summary>
public interface IScenario
{
    /// <summary>The name given on the command line.</summary>
    string Name { get; }

    /// <summary>One line on what is measured.</summary>
    string Description { get; }

    /// <summary>Runs the scenario and prints its results; returns the process exit code.</summary>
    int Run(string[] args);
}
