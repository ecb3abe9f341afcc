using System.Text;

namespace NwFilter.Core.Apply;

/// <summary>
/// The one-line summary an <see cref="ExecutionPlan"/> starts with (-WhatIf): per kernel family (bridge for ebtables,
/// ip for iptables, ip6 for ip6tables, as nft names them), the chains and rules its transactions add and remove,
/// counted from the exact texts the plan feeds to the tools. Pure.
/// </summary>
internal static class PlanSummary
{
    private static readonly string[] Order = ["bridge", "ip", "ip6", "inet", "arp", "netdev"];

    /// <summary>Chains and rules added and removed in one family.</summary>
    internal sealed class Counts
    {
        public int ChainsAdded { get; set; }
        public int RulesAdded { get; set; }
        public int ChainsRemoved { get; set; }
        public int RulesRemoved { get; set; }
        public int ElementsAdded { get; set; }
        public int ElementsRemoved { get; set; }
    }

    /// <summary>The counts of each family the transactions touch.</summary>
    public static IReadOnlyDictionary<string, Counts> Count(IEnumerable<PlannedTransaction> transactions)
    {
        var families = new Dictionary<string, Counts>(StringComparer.Ordinal);
        Counts Of(string family) => families.TryGetValue(family, out var c) ? c : families[family] = new Counts();
        foreach (var t in transactions)
        {
            var restore = RestoreFamily(t.Program);
            foreach (var raw in t.Input.Split('\n'))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }
                if (restore is not null)
                {
                    CountRestoreLine(line, Of(restore));
                }
                else
                {
                    CountNftLine(line, Of);
                }
            }
        }
        return families;
    }

    /// <summary>The summary line, such as <c>Summary: bridge: 9 chains and 38 rules added; ip: 2 rules removed.</c></summary>
    public static string Line(IEnumerable<PlannedTransaction> transactions)
    {
        var counts = Count(transactions);
        var parts = new List<string>();
        foreach (var family in counts.Keys.OrderBy(f => Array.IndexOf(Order, f) is var i && i >= 0 ? i : Order.Length).ThenBy(f => f, StringComparer.Ordinal))
        {
            var c = counts[family];
            var said = new List<string>(3);
            if (c.ChainsAdded + c.RulesAdded > 0)
            {
                said.Add($"{Both(c.ChainsAdded, c.RulesAdded)} added");
            }
            if (c.ChainsRemoved + c.RulesRemoved > 0)
            {
                // A chain is removed with its rules (flushed first), which the script does not list one by one.
                said.Add($"{Both(c.ChainsRemoved, c.RulesRemoved, " with their rules")} removed");
            }
            if (c.ElementsAdded + c.ElementsRemoved > 0)
            {
                said.Add(Elements(c.ElementsAdded, c.ElementsRemoved));
            }
            if (said.Count > 0)
            {
                parts.Add($"{family}: {string.Join(", ", said)}");
            }
        }
        var text = new StringBuilder("Summary: ");
        text.Append(parts.Count == 0 ? "no chain or rule is added or removed" : string.Join("; ", parts));
        return text.Append('.').ToString();
    }

    private static string Both(int chains, int rules, string chainsWith = "") => (chains, rules) switch
    {
        (0, _) => Plural(rules, "rule"),
        (_, 0) => Plural(chains, "chain") + (chains == 1 ? chainsWith.Replace("their", "its", StringComparison.Ordinal) : chainsWith),
        _ => $"{Plural(chains, "chain")}{(chains == 1 ? chainsWith.Replace("their", "its", StringComparison.Ordinal) : chainsWith)} and {Plural(rules, "rule")}",
    };

    private static string Elements(int added, int removed) => (added, removed) switch
    {
        (_, 0) => $"{Plural(added, "port map entry", "port map entries")} added",
        (0, _) => $"{Plural(removed, "port map entry", "port map entries")} removed",
        _ => $"{Plural(added, "port map entry", "port map entries")} added, {removed} removed",
    };

    private static string Plural(int n, string one, string? many = null) => n == 1 ? $"1 {one}" : $"{n} {many ?? one + "s"}";

    /// <summary>The family of an *tables-restore program; null for nft.</summary>
    private static string? RestoreFamily(string program) => Path.GetFileName(program) switch
    {
        "ebtables-restore" => "bridge",
        "iptables-restore" => "ip",
        "ip6tables-restore" => "ip6",
        _ => null,
    };

    private static void CountRestoreLine(string line, Counts counts)
    {
        if (line.StartsWith("-N ", StringComparison.Ordinal))
        {
            counts.ChainsAdded++;
        }
        else if (line.StartsWith(':'))
        {
            // iptables-restore declares a user chain as ":NAME - [0:0]"; a built-in chain's policy line is not a new chain.
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && fields[1] == "-")
            {
                counts.ChainsAdded++;
            }
        }
        else if (line.StartsWith("-A ", StringComparison.Ordinal) || line.StartsWith("-I ", StringComparison.Ordinal))
        {
            counts.RulesAdded++;
        }
        else if (line.StartsWith("-D ", StringComparison.Ordinal))
        {
            counts.RulesRemoved++;
        }
        else if (line.StartsWith("-X ", StringComparison.Ordinal))
        {
            counts.ChainsRemoved++;
        }
    }

    /// <summary>The entries of an element command: <c>{ "vnet0" : jump a, "vnet1" : jump b }</c> has two.</summary>
    private static int Entries(string line)
    {
        var open = line.IndexOf('{', StringComparison.Ordinal);
        return open < 0 ? 1 : 1 + line.AsSpan(open).Count(',');
    }

    private static void CountNftLine(string line, Func<string, Counts> of)
    {
        var fields = line.Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3)
        {
            return;
        }
        var counts = of(fields[2]);
        switch (fields[0], fields[1])
        {
            case ("add" or "create", "chain"):
                counts.ChainsAdded++;
                break;
            case ("add" or "insert", "rule"):
                counts.RulesAdded++;
                break;
            case ("delete" or "destroy", "rule"):
                counts.RulesRemoved++;
                break;
            case ("delete" or "destroy", "chain"):
                counts.ChainsRemoved++;
                break;
            case ("add" or "create", "element"):
                counts.ElementsAdded += Entries(line);
                break;
            case ("delete" or "destroy", "element"):
                counts.ElementsRemoved += Entries(line);
                break;
            default:
                break;
        }
    }
}
