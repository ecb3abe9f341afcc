using System.Text;

namespace NwFilter.Core.Backends;

/// <summary>
/// Prints commands as text: <see cref="Recorded(FirewallCommand)"/> is libvirt's dry-run recorder format (the
/// <c>*-linux.args</c> files, 1.2); <see cref="ShellLine"/> is one shell line per command.
/// </summary>
internal static class CommandPrinter
{
    private static readonly char[] ShellSpecial = ['\r', '\t', '\n', ' ', '!', '"', '#', '$', '&', '\'', '(', ')', '*', ';', '<', '>', '?', '[', '\\', ']', '^', '`', '{', '|', '}', '~'];

    /// <summary>
    /// libvirt's recorder format: the program, then each argument; an argument starting with <c>-</c> starts a new line,
    /// any other goes on the current line when that line began with a <c>-</c> argument, else on a new line. A line
    /// break is <c>" \\\n"</c>. Ends with a newline.
    /// </summary>
    public static string Recorded(FirewallCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var text = new StringBuilder();
        AppendRecorded(text, command);
        return text.ToString();
    }

    /// <summary>Several commands in the recorder format, concatenated.</summary>
    public static string Recorded(IEnumerable<FirewallCommand> commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var text = new StringBuilder();
        foreach (var command in commands)
        {
            AppendRecorded(text, command);
        }
        return text.ToString();
    }

    /// <summary>One line: the program and its arguments, each quoted for a POSIX shell when needed.</summary>
    public static string ShellLine(FirewallCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var text = new StringBuilder(command.Program);
        foreach (var argument in command.Arguments)
        {
            text.Append(' ');
            AppendQuoted(text, argument);
        }
        return text.ToString();
    }

    /// <summary>Shell lines, one per command, each ending with a newline.</summary>
    public static string ShellLines(IEnumerable<FirewallCommand> commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var text = new StringBuilder();
        foreach (var command in commands)
        {
            text.Append(ShellLine(command)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>An argument as a shell word: unchanged when safe, else in single quotes (a quote becomes <c>'\''</c>).</summary>
    public static string Quote(string argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        var text = new StringBuilder();
        AppendQuoted(text, argument);
        return text.ToString();
    }

    private static void AppendRecorded(StringBuilder text, FirewallCommand command)
    {
        text.Append(command.Program);
        var lineStartsWithOption = false;
        foreach (var argument in command.Arguments)
        {
            if (argument.StartsWith('-'))
            {
                text.Append(" \\\n");
                lineStartsWithOption = true;
            }
            else if (lineStartsWithOption)
            {
                text.Append(' ');
            }
            else
            {
                text.Append(" \\\n");
            }
            AppendQuoted(text, argument);
        }
        text.Append('\n');
    }

    private static void AppendQuoted(StringBuilder text, string argument)
    {
        if (argument.Length == 0)
        {
            text.Append("''");
            return;
        }
        if (argument.IndexOfAny(ShellSpecial) < 0)
        {
            text.Append(argument);
            return;
        }
        text.Append('\'').Append(argument.Replace("'", "'\\''", StringComparison.Ordinal)).Append('\'');
    }
}
