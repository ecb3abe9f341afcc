using NwFilter.Bench;

// A scenario-dispatching benchmark runner: each scenario is one IScenario class under Scenarios/.
var scenarios = ScenarioRegistry.All;
if (args.Length == 0 || args[0] is "-h" or "--help" or "list")
{
    Console.WriteLine("usage: NwFilter.Bench <scenario> [options]");
    foreach (var s in scenarios)
    {
        Console.WriteLine($"  {s.Name,-16} {s.Description}");
    }
    return args.Length == 0 ? 1 : 0;
}

var scenario = scenarios.FirstOrDefault(s => s.Name.Equals(args[0], StringComparison.OrdinalIgnoreCase));
if (scenario is null)
{
    Console.Error.WriteLine($"unknown scenario '{args[0]}' (try: list)");
    return 2;
}
return scenario.Run(args[1..]);
