using System.Text.RegularExpressions;

namespace NwFilter.Core.Host;

/// <summary>Which implementation sits behind a tool name.</summary>
public enum FirewallToolVariant
{
    /// <summary>The tool is not installed.</summary>
    Missing,
    /// <summary>The nf_tables-based build of the xtables tool (<c>iptables-nft</c>, <c>ebtables-nft</c>).</summary>
    NfTables,
    /// <summary>The legacy xtables build that talks to the old kernel tables.</summary>
    Legacy,
    /// <summary>The <c>nft</c> tool itself.</summary>
    Nft,
    /// <summary>A tool whose version text names no known variant.</summary>
    Unknown,
}

/// <summary>One firewall program: where it is, its version, and whether it is the nf_tables or the legacy flavour.</summary>
internal sealed record FirewallTool(string Name, string? Path, string? Version, FirewallToolVariant Variant)
{
    public bool Exists => Path is not null;
}

/// <summary>What one restore program accepted when probed in a scratch namespace.</summary>
/// <param name="Family">The family probed.</param>
/// <param name="NoFlush">A second --noflush run kept what the first created.</param>
/// <param name="Operations">Per operation (-N -A -I -D -F -X -E -P): whether a restore line with it succeeded.</param>
/// <param name="AllOrNothing">A file whose third line fails left no trace of its first two.</param>
internal sealed record RestoreCapabilities(
    XtablesFamily Family,
    bool NoFlush,
    IReadOnlyDictionary<string, bool> Operations,
    bool AllOrNothing);

/// <summary>Finds the firewall tools on this host and what their restore formats accept.</summary>
internal static partial class FirewallTools
{
    public static IReadOnlyList<string> ToolNames { get; } =
    [
        "ebtables", "ebtables-save", "ebtables-restore",
        "iptables", "iptables-save", "iptables-restore",
        "ip6tables", "ip6tables-save", "ip6tables-restore",
        "nft",
    ];

    private static readonly string[] SearchDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"];

    /// <summary>The full path of a program on PATH (or the usual sbin directories), or null.</summary>
    public static string? Locate(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(SearchDirectories)
            .Select(d => System.IO.Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// Locates every tool and asks it for its version (read-only: safe in any namespace). ebtables-restore has no
    /// version option, so a restore or save tool reports the version of its family's main command when both resolve
    /// to the same binary (xtables-nft-multi).
    /// </summary>
    public static async Task<IReadOnlyList<FirewallTool>> ProbeToolsAsync(IProcessRunner runner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        var tools = new List<FirewallTool>();
        foreach (var name in ToolNames)
        {
            var path = Locate(name);
            if (path is null)
            {
                tools.Add(new FirewallTool(name, null, null, FirewallToolVariant.Missing));
                continue;
            }

            var main = name.Split('-')[0];
            var versionOf = name == main || name == "nft" ? path : Locate(main) ?? path;
            var result = await runner.RunAsync(new ProcessRequest(versionOf, "--version") { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken).ConfigureAwait(false);
            var (version, variant) = ParseVersion(result.StandardOutput + result.StandardError, name == "nft");
            tools.Add(new FirewallTool(name, path, version, variant));
        }

        return tools;
    }

    /// <summary>Parses <c>iptables v1.8.9 (nf_tables)</c>, <c>ebtables 1.8.9 (legacy)</c>, <c>nftables v1.0.6 (…)</c>.</summary>
    public static (string? Version, FirewallToolVariant Variant) ParseVersion(string text, bool isNft)
    {
        ArgumentNullException.ThrowIfNull(text);
        var match = VersionPattern().Match(text);
        if (!match.Success)
        {
            return (null, FirewallToolVariant.Unknown);
        }

        var variant = isNft ? FirewallToolVariant.Nft
            : text.Contains("(nf_tables)", StringComparison.Ordinal) ? FirewallToolVariant.NfTables
            : text.Contains("(legacy)", StringComparison.Ordinal) ? FirewallToolVariant.Legacy
            : FirewallToolVariant.Unknown;
        return (match.Groups[1].Value, variant);
    }

    /// <summary>
    /// Probes what <c>{family}-restore</c> accepts. It CREATES AND DELETES CHAINS in the namespace the runner targets:
    /// give it a runner bound to a scratch namespace (<see cref="NamespacedProcessRunner"/>), never the host's own.
    /// </summary>
    public static async Task<RestoreCapabilities> ProbeRestoreAsync(
        IProcessRunner scratchRunner,
        XtablesFamily family,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scratchRunner);
        var program = RestoreScript.ProgramName(family);
        var table = family == XtablesFamily.Ebtables ? "nat" : "filter";
        var builtin = family == XtablesFamily.Ebtables ? "PREROUTING" : "FORWARD";

        async Task<bool> Restore(params string[] lines)
        {
            var text = $"*{table}\n{string.Join('\n', lines)}\nCOMMIT\n";
            var request = new ProcessRequest(program + "-restore", "--noflush") { StandardInput = text, Timeout = TimeSpan.FromSeconds(30) };
            return (await scratchRunner.RunAsync(request, cancellationToken).ConfigureAwait(false)).Succeeded;
        }

        async Task<string> Save()
        {
            var request = new ProcessRequest(program + "-save") { Timeout = TimeSpan.FromSeconds(30) };
            return (await scratchRunner.RunAsync(request, cancellationToken).ConfigureAwait(false)).StandardOutput;
        }

        static bool Declares(string save, string chain) =>
            save.Split('\n').Any(l => l.StartsWith($":{chain} ", StringComparison.Ordinal));

        var ops = new Dictionary<string, bool>(StringComparer.Ordinal);
        ops["-N"] = await Restore("-N nwfprobe-a").ConfigureAwait(false);
        var noFlush = await Restore("-N nwfprobe-b").ConfigureAwait(false) && Declares(await Save().ConfigureAwait(false), "nwfprobe-a");
        ops["-A"] = await Restore("-A nwfprobe-a -j ACCEPT").ConfigureAwait(false);
        ops["-I"] = await Restore("-I nwfprobe-a 1 -j DROP").ConfigureAwait(false);
        ops["-D"] = await Restore("-D nwfprobe-a -j DROP").ConfigureAwait(false);
        ops["-P"] = await Restore($"-P {builtin} ACCEPT").ConfigureAwait(false);
        ops["-E"] = await Restore("-E nwfprobe-a nwfprobe-c").ConfigureAwait(false) && Declares(await Save().ConfigureAwait(false), "nwfprobe-c");
        ops["-F"] = await Restore("-F nwfprobe-c").ConfigureAwait(false);
        ops["-X"] = await Restore("-X nwfprobe-c", "-X nwfprobe-b").ConfigureAwait(false) && !Declares(await Save().ConfigureAwait(false), "nwfprobe-c");

        var failed = await Restore("-N nwfprobe-d", "-A nwfprobe-d -j ACCEPT", "-D nwfprobe-d -j DROP").ConfigureAwait(false);
        var allOrNothing = !failed && !Declares(await Save().ConfigureAwait(false), "nwfprobe-d");
        return new RestoreCapabilities(family, noFlush, ops, allOrNothing);
    }

    [GeneratedRegex(@"v?(\d+\.\d+(?:\.\d+)?)")]
    private static partial Regex VersionPattern();
}
