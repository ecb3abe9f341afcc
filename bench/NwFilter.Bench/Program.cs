using NwFilter.Bench;

if (args.Length == 0 || ScenarioRegistry.Find(args[0]) is not { } scenario)
{
    Console.Error.WriteLine("usage: NwFilter.Bench <scenario> [options]");
    Console.Error.WriteLine("scenarios:");
    foreach (var s in ScenarioRegistry.All)
    {
        Console.Error.WriteLine($"  {s.Name,-12} {s.Description}");
    }
    return args.Length == 0 ? 0 : 2;
}
return scenario.Run(args[1..]);
