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

    private static readonly Lazy<(string Resource, string Reason)?> Missing = new(Check);

    /// <summary>Null when the lab can run, else why not.</summary>
    public static string? Reason => Missing.Value?.Reason;

    /// <summary>Skips the calling test when the lab cannot run (fails it when the run asserts root and tools: <see cref="Requirement"/>).</summary>
    public static void Require()
    {
        if (Missing.Value is { } missing)
        {
            Requirement.Require(missing.Resource, false, missing.Reason);
        }
    }

    private static (string Resource, string Reason)? Check()
    {
        if (!OperatingSystem.IsLinux())
        {
            return ("root", "network namespaces need Linux");
        }

        if (Environment.GetEnvironmentVariable("NWFILTER_SKIP_NETNS") is { Length: > 0 })
        {
            return ("root", "NWFILTER_SKIP_NETNS is set");
        }

        if (!IsRoot())
        {
            return ("root", "network namespace tests need root");
        }

        var missing = RequiredPrograms.Where(p => FirewallTools.Locate(p) is null).ToList();
        return missing.Count > 0 ? ("tools", "missing programs: " + string.Join(", ", missing)) : null;
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
