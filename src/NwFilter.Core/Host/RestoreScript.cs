using System.Text;

namespace NwFilter.Core.Host;

/// <summary>The three xtables families NwFilter drives the way libvirt does.</summary>
public enum XtablesFamily
{
    /// <summary>ebtables: Ethernet-layer rules on the bridge.</summary>
    Ebtables,
    /// <summary>iptables: IPv4 rules.</summary>
    Iptables,
    /// <summary>ip6tables: IPv6 rules.</summary>
    Ip6tables,
}

/// <summary>
/// One restore transaction set for one family: the text for <c>{family}-restore --noflush</c>. Each table section ends
/// in COMMIT and is one all-or-nothing nf_tables transaction (measured: a failing line anywhere leaves the table as it
/// was). libvirt only ever uses one table per family (ebtables: nat, ip/ip6tables: filter), so in practice one batch is
/// one transaction.
/// </summary>
internal sealed record RestoreBatch(XtablesFamily Family, IReadOnlyList<string> Tables, string Text, int CommandCount)
{
    public string RestoreProgram => RestoreScript.ProgramName(Family) + "-restore";

    public string SaveProgram => RestoreScript.ProgramName(Family) + "-save";

    /// <summary>The process that applies this batch: <c>X-restore --noflush</c> with the text on stdin.</summary>
    public ProcessRequest ToRequest() => new(RestoreProgram, "--noflush") { StandardInput = Text };
}

/// <summary>A command that cannot go through a restore file, with its position in the input and the reason.</summary>
internal sealed record SeparateCommand(int Index, string Program, IReadOnlyList<string> Arguments, string Reason)
{
    public ProcessRequest ToRequest() => new(Program, Arguments);
}

/// <summary>
/// Translates libvirt-style command argument lists (<c>ebtables --concurrent -t nat -A libvirt-J-vnet0 -s ! MAC -j DROP</c>)
/// into restore-file text, so a whole per-interface ruleset costs one process per family instead of one per rule.
/// </summary>
/// <remarks>
/// Restorable operations (verified on ebtables/iptables/ip6tables 1.8.9 nf_tables): -N, -A, -I, -D, -F, -X, -E, -P.
/// Lines keep the command's own words, so a restore line fails exactly where the command would (for example -N of a
/// chain that exists). We deliberately never emit <c>:CHAIN</c> declarations for user chains: under --noflush a
/// declaration silently flushes an existing chain. Separate commands: queries (-L, -S, -C, -Z and their long forms),
/// arguments a restore line cannot carry (empty, or containing a line break), unknown programs and unknown operations.
/// The caller decides where a separate command runs; its <see cref="SeparateCommand.Index"/> says where it stood.
/// </remarks>
internal sealed class RestoreScript
{
    private static readonly Dictionary<string, string> RestorableOperations = new(StringComparer.Ordinal)
    {
        ["-N"] = "-N", ["--new-chain"] = "-N",
        ["-A"] = "-A", ["--append"] = "-A",
        ["-I"] = "-I", ["--insert"] = "-I",
        ["-D"] = "-D", ["--delete"] = "-D",
        ["-F"] = "-F", ["--flush"] = "-F",
        ["-X"] = "-X", ["--delete-chain"] = "-X",
        ["-E"] = "-E", ["--rename-chain"] = "-E",
        ["-P"] = "-P", ["--policy"] = "-P",
    };

    private static readonly HashSet<string> QueryOperations = new(StringComparer.Ordinal)
    {
        "-L", "--list", "-S", "--list-rules", "-C", "--check", "-Z", "--zero", "-V", "--version", "-h", "--help",
    };

    private RestoreScript(IReadOnlyList<RestoreBatch> batches, IReadOnlyList<SeparateCommand> separate)
    {
        Batches = batches;
        Separate = separate;
    }

    /// <summary>At most one batch per family, in the order the families first appear in the input.</summary>
    public IReadOnlyList<RestoreBatch> Batches { get; }

    /// <summary>Commands that must run as their own processes, in input order.</summary>
    public IReadOnlyList<SeparateCommand> Separate { get; }

    /// <summary>The batch for one family, or null when the input had no restorable command for it.</summary>
    public RestoreBatch? For(XtablesFamily family) => Batches.FirstOrDefault(b => b.Family == family);

    public static RestoreScript Translate(IEnumerable<(string Program, IReadOnlyList<string> Arguments)> commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var lines = new Dictionary<XtablesFamily, List<(string Table, string Line)>>();
        var familyOrder = new List<XtablesFamily>();
        var separate = new List<SeparateCommand>();
        var index = 0;
        foreach (var (program, arguments) in commands)
        {
            if (TryTranslate(program, arguments, out var family, out var table, out var line, out var reason))
            {
                if (!lines.TryGetValue(family, out var list))
                {
                    lines[family] = list = [];
                    familyOrder.Add(family);
                }

                list.Add((table, line));
            }
            else
            {
                separate.Add(new SeparateCommand(index, program, arguments, reason));
            }

            index++;
        }

        var batches = familyOrder.Select(f => BuildBatch(f, lines[f])).ToList();
        return new RestoreScript(batches, separate);
    }

    /// <summary>
    /// Translates one command into its restore line. False (with a reason) when it must stay a separate command.
    /// </summary>
    public static bool TryTranslate(
        string program,
        IReadOnlyList<string> arguments,
        out XtablesFamily family,
        out string table,
        out string line,
        out string reason)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(arguments);
        table = "filter";
        line = string.Empty;
        if (!TryGetFamily(program, out family))
        {
            reason = $"'{program}' is not ebtables, iptables or ip6tables";
            return false;
        }

        var words = new List<string>(arguments.Count);
        for (var i = 0; i < arguments.Count; i++)
        {
            var word = arguments[i];
            switch (word)
            {
                case "--concurrent":
                    continue;
                case "-w" or "--wait" or "-W" or "--wait-interval":
                    if (i + 1 < arguments.Count && IsNumber(arguments[i + 1]))
                    {
                        i++;
                    }

                    continue;
                case "-t" or "--table":
                    if (i + 1 >= arguments.Count)
                    {
                        reason = "-t without a table name";
                        return false;
                    }

                    table = arguments[++i];
                    continue;
                default:
                    words.Add(word);
                    break;
            }
        }

        if (words.Count == 0)
        {
            reason = "no operation";
            return false;
        }

        if (QueryOperations.Contains(words[0]))
        {
            reason = $"{words[0]} is a query: its output is needed, and restore files cannot list";
            return false;
        }

        if (!RestorableOperations.TryGetValue(words[0], out var operation))
        {
            reason = $"'{words[0]}' is not an operation restore files accept (-N -A -I -D -F -X -E -P first)";
            return false;
        }

        if (words.Any(w => w.Length == 0 || w.Contains('\n') || w.Contains('\r')))
        {
            reason = "an empty argument or one with a line break cannot be written on a restore line";
            return false;
        }

        words[0] = operation;
        line = string.Join(' ', words.Select(QuoteWord));
        reason = string.Empty;
        return true;
    }

    /// <summary>The command name of a family: ebtables, iptables, ip6tables.</summary>
    public static string ProgramName(XtablesFamily family) => family switch
    {
        XtablesFamily.Ebtables => "ebtables",
        XtablesFamily.Iptables => "iptables",
        XtablesFamily.Ip6tables => "ip6tables",
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, null),
    };

    /// <summary>
    /// Quotes one word for the xtables restore parser: words with blanks, quotes or backslashes are wrapped in double
    /// quotes, with <c>"</c> and <c>\</c> escaped by a backslash.
    /// </summary>
    public static string QuoteWord(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        if (word.Length > 0 && !word.Any(c => char.IsWhiteSpace(c) || c is '"' or '\\' or '\''))
        {
            return word;
        }

        var quoted = new StringBuilder(word.Length + 2).Append('"');
        foreach (var c in word)
        {
            if (c is '"' or '\\')
            {
                quoted.Append('\\');
            }

            quoted.Append(c);
        }

        return quoted.Append('"').ToString();
    }

    private static RestoreBatch BuildBatch(XtablesFamily family, List<(string Table, string Line)> lines)
    {
        var tables = lines.Select(l => l.Table).Distinct(StringComparer.Ordinal).ToList();
        var text = new StringBuilder();
        foreach (var table in tables)
        {
            text.Append('*').Append(table).Append('\n');
            foreach (var (_, line) in lines.Where(l => l.Table == table))
            {
                text.Append(line).Append('\n');
            }

            text.Append("COMMIT\n");
        }

        return new RestoreBatch(family, tables, text.ToString(), lines.Count);
    }

    private static bool TryGetFamily(string program, out XtablesFamily family)
    {
        var name = Path.GetFileName(program);
        foreach (var suffix in new[] { "-nft", "-legacy" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal))
            {
                name = name[..^suffix.Length];
            }
        }

        (var known, family) = name switch
        {
            "ebtables" => (true, XtablesFamily.Ebtables),
            "iptables" => (true, XtablesFamily.Iptables),
            "ip6tables" => (true, XtablesFamily.Ip6tables),
            _ => (false, default),
        };
        return known;
    }

    private static bool IsNumber(string word) => word.Length > 0 && word.All(c => char.IsAsciiDigit(c) || c == '.');
}
