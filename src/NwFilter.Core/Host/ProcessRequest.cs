namespace NwFilter.Core.Host;

/// <summary>
/// One program to run: its name or path and its arguments, passed to the kernel as an argument vector (never through a
/// shell, so nothing is split, globbed or quoted), optional text for its standard input and an optional timeout.
/// </summary>
public sealed record ProcessRequest
{
    /// <summary>A request to run <paramref name="program"/> with <paramref name="arguments"/>.</summary>
    public ProcessRequest(string program, IReadOnlyList<string> arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(arguments);
        Program = program;
        Arguments = arguments;
    }

    /// <summary>A request to run <paramref name="program"/> with <paramref name="arguments"/>.</summary>
    public ProcessRequest(string program, params string[] arguments) : this(program, (IReadOnlyList<string>)arguments)
    {
    }

    /// <summary>A program name looked up on PATH, or an absolute path.</summary>
    public string Program { get; init; }

    /// <summary>The arguments, passed as they are (no shell).</summary>
    public IReadOnlyList<string> Arguments { get; init; }

    /// <summary>Text written to the program's standard input, which is then closed; null leaves stdin unredirected.</summary>
    public string? StandardInput { get; init; }

    /// <summary>After this long the program (and its children) are killed and the result says <c>TimedOut</c>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>The command as a person would type it (for messages and -WhatIf), quoting where a shell would need it.</summary>
    public override string ToString() => CommandLine.Format(Program, Arguments);
}

/// <summary>Formats an argument vector for display only; it is never executed through a shell.</summary>
internal static class CommandLine
{
    public static string Format(string program, IEnumerable<string> arguments) =>
        string.Join(' ', new[] { program }.Concat(arguments).Select(Quote));

    public static string Quote(string argument)
    {
        if (argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%!".Contains(c)))
        {
            return argument;
        }

        return "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
