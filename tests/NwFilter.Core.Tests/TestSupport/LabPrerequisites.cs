using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// What the namespace lab needs (root, iproute2, the nf_tables xtables tools, busybox, tcpdump, ping), checked once.
/// Tests call <see cref="Require"/>, which skips them with the reason when something is missing.
/// </summary>
public static class LabPrerequisites
{
    public static IReadOnlyList<string> RequiredPrograms { get; } =
        ["ip", "ebtables", "ebtables-save", "ebtables-restore", "iptables", "iptables-save", "iptables-restore",
         "ip6tables-save", "ip6tables-restore", "nft", "busybox", "tcpdump", "ping", "ss"];

    private static readonly Lazy<string?> Missing = new(Check);

    /// <summary>Null when the lab can run, else why not.</summary>
    public static string? Reason => Missing.Value;

    /// <summary>Skips the calling test when the lab cannot run.</summary>
    public static void Require() => Skip.If(Reason is not null, Reason);

    private static string? Check()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces need Linux";
        }

        if (Environment.GetEnvironmentVariable("NWFILTER_SKIP_NETNS") is { Length: > 0 })
        {
            return "NWFILTER_SKIP_NETNS is set";
        }

        if (!IsRoot())
        {
            return "network namespace tests need root";
        }

        var missing = RequiredPrograms.Where(p => FirewallTools.Locate(p) is null).ToList();
        return missing.Count > 0 ? "missing programs: " + string.Join(", ", missing) : null;
    }

    private static bool IsRoot()
    {
        try
        {
            // /proc/self/status: "Uid:\treal\teffective\t…"; the effective uid decides.
            var uid = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            return uid.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2] == "0";
        }
        catch (IOException)
        {
            return false;
        }
    }
}
