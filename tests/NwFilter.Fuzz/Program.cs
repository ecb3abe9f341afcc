using NwFilter.Fuzz;

// The fuzz task: dotnet NwFilter.Fuzz.dll [-seconds N] [-iterations N] [-target NAME[,NAME]] [-seed SEED] [-known stop] [-nesting N]
// Runs each target for the time (or iterations) and prints one line per target; exit code 1 when any crashed.
var seconds = 60;
long iterations = -1;
string? seed = null;
var stopAtKnown = false;
var names = Targets.Names.ToList();
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i].TrimStart('-').ToLowerInvariant())
    {
        case "seconds": seconds = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
        case "iterations": iterations = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
        case "target": names = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]; break;
        case "seed": seed = value; break;
        case "known": stopAtKnown = value is "stop"; break;
        case "nesting": XmlInputs.MaxNesting = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
        default: throw new ArgumentException($"unknown option {args[i]} (-seconds, -iterations, -target, -seed, -known, -nesting)");
    }
    i++;
}

var crashed = false;
Console.WriteLine($"{"target",-14} {"seconds",8} {"iterations",12} {"crashes",8} {"known",8}");
foreach (var name in names)
{
    var target = Targets.Create(name);
    if (target is NftScriptTarget && NftScriptTarget.Unavailable() is { } reason)
    {
        Console.WriteLine($"{name,-14} skipped: {reason}");
        continue;
    }
    target.StopAtKnownCrashes = stopAtKnown;
    var budget = iterations >= 0 ? FuzzBudget.ForIterations(iterations, seed) : FuzzBudget.ForSeconds(seconds, seed);
    FuzzResult result;
    try
    {
        result = target.Run(budget, Console.Error.WriteLine);
    }
    finally
    {
        (target as IDisposable)?.Dispose();
    }
    var extra = target is NftScriptTarget nft
        ? $"  (filters passed by nft -c: {nft.Checked}; refused with a diagnostic: {nft.Refused}: " +
          string.Join(", ", nft.Refusals.OrderByDescending(r => r.Value).Take(6).Select(r => $"{r.Key} {r.Value}")) + ")"
        : "";
    Console.WriteLine($"{name,-14} {result.Elapsed.TotalSeconds,8:0} {result.Iterations,12} {result.Crashes,8} {result.KnownCrashes,8}{extra}");
    foreach (var (known, count) in result.Known)
    {
        Console.WriteLine($"  known crash {known}: {count} inputs (rerun a seed with -known stop to see one)");
    }
    foreach (var failure in result.Failures)
    {
        Console.WriteLine($"  failure (rerun with -target {name} -seed <the seed below>):\n    " + failure.Replace("\n", "\n    "));
    }
    crashed |= result.Crashes > 0;
}
return crashed ? 1 : 0;
