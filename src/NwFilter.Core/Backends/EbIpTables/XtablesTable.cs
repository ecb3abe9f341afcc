using System.Collections.Immutable;
using System.Text;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// One xtables table as the kernel holds it (read from <c>ebtables-save</c>, <c>iptables-save</c> or
/// <c>ip6tables-save</c>), and a model of what restore lines do to it. The executor plans against this model: it
/// predicts which of libvirt's "errors ignored" cleanup commands would succeed (only those go into an all-or-nothing
/// transaction), answers the plan's queries, and knows each rule's position for the atomic swap.
/// </summary>
internal sealed class XtablesTable
{
    private static readonly HashSet<string> EbtablesBuiltIns = ["PREROUTING", "OUTPUT", "POSTROUTING", "INPUT", "FORWARD", "BROUTING"];

    private readonly List<XtablesChain> _chains = [];
    private readonly Dictionary<string, XtablesChain> _byName = new(StringComparer.Ordinal);

    public XtablesTable(XtablesFamily family, string name)
    {
        Family = family;
        Name = name;
    }

    public XtablesFamily Family { get; }

    /// <summary>The table: <c>nat</c> for ebtables, <c>filter</c> for iptables and ip6tables.</summary>
    public string Name { get; }

    /// <summary>The chains, in the order the save output declared them (new ones at the end).</summary>
    public IReadOnlyList<XtablesChain> Chains => _chains;

    /// <summary>The table NwFilter uses for a family.</summary>
    public static string TableOf(XtablesFamily family) => family == XtablesFamily.Ebtables ? "nat" : "filter";

    /// <summary>Reads the <paramref name="table"/> section of save output; an absent section gives an empty table.</summary>
    public static XtablesTable Parse(XtablesFamily family, string table, string saveText)
    {
        ArgumentNullException.ThrowIfNull(saveText);
        var result = new XtablesTable(family, table);
        var inTable = false;
        foreach (var raw in saveText.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            if (line[0] == '*')
            {
                inTable = line.AsSpan(1).Trim().SequenceEqual(table);
                continue;
            }
            if (!inTable || line == "COMMIT")
            {
                continue;
            }
            if (line[0] == ':')
            {
                var parts = line[1..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var policy = parts.Length > 1 ? parts[1] : "-";
                var builtIn = family == XtablesFamily.Ebtables ? EbtablesBuiltIns.Contains(parts[0]) : policy != "-";
                result.AddChain(parts[0], builtIn, policy);
                continue;
            }
            var words = RuleWords.Split(line);
            if (words.Count >= 2 && words[0] == "-A")
            {
                var chain = result.GetOrAdd(words[1]);
                chain.Rules.Add(new XtablesRule([.. words.Skip(2)]));
            }
        }
        return result;
    }

    public bool HasChain(string name) => _byName.ContainsKey(name);

    public XtablesChain? Chain(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The rules of a chain (empty when it does not exist).</summary>
    public IReadOnlyList<XtablesRule> RulesOf(string name) => _byName.TryGetValue(name, out var c) ? c.Rules : [];

    /// <summary>True when some rule of the table jumps or goes to <paramref name="chain"/>.</summary>
    public bool IsReferenced(string chain) => _chains.Any(c => c.Rules.Any(r => r.Target == chain));

    public XtablesTable Clone()
    {
        var copy = new XtablesTable(Family, Name);
        foreach (var c in _chains)
        {
            var chain = copy.AddChain(c.Name, c.BuiltIn, c.Policy);
            chain.Rules.AddRange(c.Rules);
        }
        return copy;
    }

    /// <summary>Why the restore line (operation first: <c>-A CHAIN ...</c>) would fail here, or null when it would succeed.</summary>
    public string? Check(IReadOnlyList<string> words) => Execute(words, apply: false);

    /// <summary>Applies a restore line; returns why it fails (leaving the table unchanged), or null.</summary>
    public string? Apply(IReadOnlyList<string> words) => Execute(words, apply: true);

    private string? Execute(IReadOnlyList<string> words, bool apply)
    {
        if (words.Count < 2)
        {
            return "no chain named";
        }
        var op = words[0];
        var name = words[1];
        _byName.TryGetValue(name, out var chain);
        switch (op)
        {
            case "-N":
                if (chain is not null)
                {
                    return $"chain {name} exists";
                }
                if (apply)
                {
                    AddChain(name, false, Family == XtablesFamily.Ebtables ? "ACCEPT" : "-");
                }
                return null;
            case "-A" or "-I":
                if (chain is null)
                {
                    return $"chain {name} does not exist";
                }
                var position = 0;
                var skip = 2;
                if (op == "-I" && words.Count > 2 && int.TryParse(words[2], out var n))
                {
                    position = n - 1;
                    skip = 3;
                }
                if (op == "-I" && (position < 0 || position > chain.Rules.Count))
                {
                    return $"index {position + 1} is beyond the end of {name}";
                }
                if (apply)
                {
                    var rule = new XtablesRule([.. words.Skip(skip)]);
                    if (op == "-A")
                    {
                        chain.Rules.Add(rule);
                    }
                    else
                    {
                        chain.Rules.Insert(position, rule);
                    }
                }
                return null;
            case "-D":
                if (chain is null)
                {
                    return $"chain {name} does not exist";
                }
                var index = chain.IndexOf([.. words.Skip(2)]);
                if (index < 0)
                {
                    return $"no such rule in {name}";
                }
                if (apply)
                {
                    chain.Rules.RemoveAt(index);
                }
                return null;
            case "-F":
                if (chain is null)
                {
                    return $"chain {name} does not exist";
                }
                if (apply)
                {
                    chain.Rules.Clear();
                }
                return null;
            case "-X":
                if (chain is null)
                {
                    return $"chain {name} does not exist";
                }
                if (chain.BuiltIn)
                {
                    return $"{name} is a built-in chain";
                }
                if (chain.Rules.Count > 0)
                {
                    return $"chain {name} is not empty";
                }
                if (IsReferenced(name))
                {
                    return $"chain {name} is in use";
                }
                if (apply)
                {
                    _chains.Remove(chain);
                    _byName.Remove(name);
                }
                return null;
            case "-E":
                if (words.Count < 3)
                {
                    return "no new name";
                }
                if (chain is null)
                {
                    return $"chain {name} does not exist";
                }
                if (_byName.ContainsKey(words[2]))
                {
                    return $"chain {words[2]} exists";
                }
                if (apply)
                {
                    Rename(chain, words[2]);
                }
                return null;
            case "-P":
                return chain is null ? $"chain {name} does not exist" : null;
            default:
                return $"unknown operation {op}";
        }
    }

    /// <summary>Renames a chain; rules that jump to it follow, as the kernel's do.</summary>
    public void Rename(XtablesChain chain, string newName)
    {
        var old = chain.Name;
        _byName.Remove(old);
        chain.Name = newName;
        _byName[newName] = chain;
        foreach (var c in _chains)
        {
            for (var i = 0; i < c.Rules.Count; i++)
            {
                if (c.Rules[i].Target == old)
                {
                    c.Rules[i] = c.Rules[i].WithTarget(newName);
                }
            }
        }
    }

    /// <summary>Removes a chain outright (the model of flush + delete).</summary>
    public void Remove(string name)
    {
        if (_byName.Remove(name, out var chain))
        {
            _chains.Remove(chain);
        }
    }

    /// <summary>The save-format text of the table (without counters), for messages and tests.</summary>
    public string ToSaveText()
    {
        var text = new StringBuilder().Append('*').Append(Name).Append('\n');
        foreach (var c in _chains)
        {
            text.Append(':').Append(c.Name).Append(' ').Append(c.Policy).Append('\n');
        }
        foreach (var c in _chains)
        {
            foreach (var r in c.Rules)
            {
                text.Append("-A ").Append(c.Name).Append(' ').Append(r).Append('\n');
            }
        }
        return text.ToString();
    }

    private XtablesChain AddChain(string name, bool builtIn, string policy)
    {
        var chain = new XtablesChain(name, builtIn, policy);
        _chains.Add(chain);
        _byName[name] = chain;
        return chain;
    }

    private XtablesChain GetOrAdd(string name) => _byName.TryGetValue(name, out var c) ? c : AddChain(name, false, "-");
}

/// <summary>A chain of an <see cref="XtablesTable"/>.</summary>
internal sealed class XtablesChain(string name, bool builtIn, string policy)
{
    public string Name { get; set; } = name;
    public bool BuiltIn { get; } = builtIn;
    public string Policy { get; } = policy;
    public List<XtablesRule> Rules { get; } = [];

    /// <summary>The first rule with the same words in any order (save output reorders some options), or -1.</summary>
    public int IndexOf(ImmutableArray<string> words)
    {
        if (words.Length == 1 && int.TryParse(words[0], out var number))
        {
            return number >= 1 && number <= Rules.Count ? number - 1 : -1;
        }
        var key = XtablesRule.KeyOf(words);
        return Rules.FindIndex(r => r.Key == key);
    }
}

/// <summary>One rule: its words after <c>-A CHAIN</c>, and the chain or verdict it jumps to.</summary>
internal sealed record XtablesRule
{
    public XtablesRule(ImmutableArray<string> words)
    {
        Words = words;
        for (var i = words.Length - 2; i >= 0; i--)
        {
            if (words[i] is "-j" or "-g" or "--jump" or "--goto")
            {
                Target = words[i + 1];
                IsGoto = words[i] is "-g" or "--goto";
                break;
            }
        }
        Key = KeyOf(words);
    }

    public ImmutableArray<string> Words { get; }

    /// <summary>The jump or goto target (a chain or a verdict such as ACCEPT), or null.</summary>
    public string? Target { get; }

    public bool IsGoto { get; }

    /// <summary>The words sorted: equal for the same rule written with options in another order.</summary>
    public string Key { get; }

    public bool Contains(string word) => Words.Contains(word);

    /// <summary>True when <paramref name="option"/> is followed by <paramref name="value"/>.</summary>
    public bool Has(string option, string value)
    {
        for (var i = 0; i + 1 < Words.Length; i++)
        {
            if (Words[i] == option && Words[i + 1] == value)
            {
                return true;
            }
        }
        return false;
    }

    public XtablesRule WithTarget(string target)
    {
        var words = Words.ToBuilder();
        for (var i = words.Count - 2; i >= 0; i--)
        {
            if (words[i] is "-j" or "-g" or "--jump" or "--goto")
            {
                words[i + 1] = target;
                break;
            }
        }
        return new XtablesRule(words.ToImmutable());
    }

    public static string KeyOf(IEnumerable<string> words) => string.Join('\u0001', words.Order(StringComparer.Ordinal));

    public override string ToString() => RuleWords.Join(Words);
}

/// <summary>Splits and joins restore/save lines the way the xtables restore parser does (double quotes, backslash escapes).</summary>
internal static class RuleWords
{
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var quoted = false;
        var inWord = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\')
                {
                    word.Append(line[++i]);
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
                inWord = true;
            }
            else if (c is ' ' or '\t')
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (inWord)
        {
            words.Add(word.ToString());
        }
        return words;
    }

    public static string Join(IEnumerable<string> words) => string.Join(' ', words.Select(RestoreScript.QuoteWord));
}
