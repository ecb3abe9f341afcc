using System.Globalization;
using NwFilter.Core.Lowering;

namespace NwFilter.Core.Backends;

/// <summary>A binding's port as the counters read it: its compile (the rule instances' commands) and its backend plan.</summary>
internal sealed record CountedPort(string PortDevice, Ruleset Ruleset, PortPlan Plan);

/// <summary>One kernel rule's counters, mapped back to its rule instance (null: NwFilter's own rules, or not NwFilter's).</summary>
/// <param name="PortDevice">The port.</param>
/// <param name="Chain">The chain by role (nft) or name (xtables).</param>
/// <param name="Origin">The rule instance.</param>
/// <param name="Packets">Packets.</param>
/// <param name="Bytes">Bytes.</param>
internal sealed record KernelRuleCount(string PortDevice, string Chain, RuleOrigin? Origin, long Packets, long Bytes);

/// <summary>The counters the xtables save tools print with <c>-c</c> (pure).</summary>
internal static class XtablesCounters
{
    /// <summary>
    /// Splits <c>[PACKETS:BYTES] -A ...</c> lines of a <c>*-save -c</c> listing into the listing without counters (what
    /// <see cref="EbIpTables.XtablesProvenance.Map"/> reads) and each <c>-A</c> line's counters by its chain and 0-based position in it.
    /// </summary>
    public static (string Listing, Dictionary<(string Chain, int Position), (long Packets, long Bytes)> Counters) Split(string saveOutput)
    {
        ArgumentNullException.ThrowIfNull(saveOutput);
        var lines = new List<string>();
        var counters = new Dictionary<(string, int), (long, long)>();
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var raw in saveOutput.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith('[') && line.IndexOf("] ", StringComparison.Ordinal) is var close and > 0)
            {
                var pair = line[1..close].Split(':');
                var rest = line[(close + 2)..];
                if (pair.Length == 2 && rest.StartsWith("-A ", StringComparison.Ordinal) &&
                    long.TryParse(pair[0], NumberStyles.None, CultureInfo.InvariantCulture, out var packets) &&
                    long.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
                {
                    lines.Add(rest);
                    var end = rest.IndexOf(' ', 3);
                    var chain = end < 0 ? rest[3..] : rest[3..end];
                    positions.TryGetValue(chain, out var position);
                    positions[chain] = position + 1;
                    counters[(chain, position)] = (packets, bytes);
                    continue;
                }
            }
            if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                throw new FormatException($"The save tool printed a rule without counters: '{line}'.");
            }
            lines.Add(line);
        }
        return (string.Join('\n', lines), counters);
    }
}
