namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// What a test needs from outside the repository: libvirt's corpus (<c>corpus</c>), root (<c>root</c>), a program
/// (<c>tools</c>: the firewall tools, busybox, tcpdump, dnsmasq, ...), libnftables (<c>libnftables</c>), virsh and the
/// reference libvirt of <c>../shared/tools/libvirt-ref</c> (<c>libvirt</c>), real guests through
/// <c>../shared/tools/vm-lab</c> with the forwarding module built by <c>build.ps1 -Task Bridge</c> (<c>vmlab</c>). A test whose
/// resource is absent is skipped with the reason, so a newcomer's first run is green; but a run that knows the resource
/// is there (<see cref="EnvironmentVariable"/>, which .ci/run sets for what it installed or found) fails the test
/// instead, so a skip can never hide a regression in CI.
/// </summary>
public static class Requirement
{
    /// <summary>Space- or comma-separated resource names the run asserts are present (<c>all</c> for every one).</summary>
    public const string EnvironmentVariable = "NWFILTER_REQUIRE_RESOURCES";

    /// <summary>The resource names tests use.</summary>
    public static IReadOnlyList<string> Resources { get; } = ["corpus", "root", "tools", "libnftables", "libvirt", "vmlab"];

    private static readonly HashSet<string> Asserted = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>True when the run asserts that <paramref name="resource"/> is present.</summary>
    public static bool IsAsserted(string resource) => Asserted.Contains("all") || Asserted.Contains(resource);

    /// <summary>
    /// Returns when <paramref name="present"/>; otherwise skips the calling test, saying <c>needs RESOURCE: REASON</c>, or
    /// fails it when the run asserts the resource is present.
    /// </summary>
    public static void Require(string resource, bool present, string reason) => Require(resource, present, reason, Asserted);

    internal static void Require(string resource, bool present, string reason, IReadOnlySet<string> asserted)
    {
        if (!Resources.Contains(resource))
        {
            throw new ArgumentException($"'{resource}' is not one of {string.Join(", ", Resources)}.", nameof(resource));
        }
        if (present)
        {
            return;
        }
        if (asserted.Contains("all") || asserted.Contains(resource))
        {
            throw new Xunit.Sdk.XunitException(
                $"{EnvironmentVariable} says '{resource}' is present, but this test would have skipped: {reason}");
        }
        throw new SkipException($"needs {resource}: {reason}");
    }

    /// <summary>Requires a program on PATH (or in the firewall tools' usual directories).</summary>
    public static void Program(string name) =>
        Require("tools", NwFilter.Core.Host.FirewallTools.Locate(name) is not null, $"{name} is not installed");

    internal static HashSet<string> Parse(string? value) =>
        [.. (value ?? "").Split([' ', ',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
