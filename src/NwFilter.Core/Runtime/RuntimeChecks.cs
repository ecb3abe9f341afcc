using System.Collections.Frozen;
using System.Globalization;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Runtime;

/// <summary>The codes of the runtime's own refusals and warnings (docs/design/runtime.md, "A typo must not look like success").</summary>
public static class RuntimeCodes
{
    /// <summary>A request names a network namespace that does not exist (no <c>/run/netns/NAME</c>).</summary>
    public const string NetworkNamespaceNotFound = "NetworkNamespaceNotFound";

    /// <summary>Changing the firewall was asked of a process without CAP_NET_ADMIN.</summary>
    public const string FirewallNeedsRoot = "FirewallNeedsRoot";

    /// <summary>A binding's port device is not an interface of its namespace (yet): its rules match nothing until it is.</summary>
    public const string PortDeviceNotFound = "PortDeviceNotFound";
}

/// <summary>
/// What the runtime checks of the host before it changes anything, so that a typo does not look like success: the
/// namespace exists, the process may change the firewall, the port devices exist. Each probe can be replaced through
/// <see cref="NwFilterRuntimeOptions"/> (tests, a daemon with its own view of the host).
/// </summary>
public static class RuntimeChecks
{
    /// <summary>CAP_NET_ADMIN's bit in the capability sets (linux/capability.h).</summary>
    private const int CapNetAdmin = 12;

    /// <summary>True when this process has CAP_NET_ADMIN in its effective set (read from <c>/proc/self/status</c>).</summary>
    public static bool HasNetAdmin()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                {
                    return ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var caps)
                        && (caps & (1UL << CapNetAdmin)) != 0;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        // No /proc to ask: let the tools say what they may do.
        return true;
    }

    /// <summary>
    /// The interfaces of a namespace: <c>/sys/class/net</c> for the host's own, <c>ip -n NAME -o link show</c> for a
    /// named one; null when they cannot be listed (then nothing is said about them).
    /// </summary>
    public static async Task<IReadOnlySet<string>?> ListInterfacesAsync(string? networkNamespace, IProcessRunner runner, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runner);
        if (networkNamespace is null)
        {
            try
            {
                return Directory.EnumerateFileSystemEntries("/sys/class/net").Select(Path.GetFileName).OfType<string>().ToFrozenSet(StringComparer.Ordinal);
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }
        var result = await runner.RunAsync(new ProcessRequest(NetworkNamespace.IpProgram, "-n", networkNamespace, "-o", "link", "show"), cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? ParseLinks(result.StandardOutput) : null;
    }

    /// <summary>The interface names of <c>ip -o link show</c>'s lines (<c>3: vnet0@if2: &lt;...&gt;</c>).</summary>
    internal static FrozenSet<string> ParseLinks(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(": ", 3))
            .Where(parts => parts.Length >= 2)
            .Select(parts => parts[1].Split('@')[0])
            .ToFrozenSet(StringComparer.Ordinal);

    internal static NwFilterException NamespaceNotFound(string networkNamespace) =>
        new(Diagnostic.Error(RuntimeCodes.NetworkNamespaceNotFound,
            $"There is no network namespace named '{networkNamespace}' (ip netns list shows those there are; ip netns add {networkNamespace} makes it). Nothing was changed.",
            DiagnosticCategory.ObjectNotFound) with { Value = networkNamespace });

    internal static NwFilterException NeedsRoot() =>
        new(Diagnostic.Error(RuntimeCodes.FirewallNeedsRoot,
            "Changing the firewall needs root (CAP_NET_ADMIN): run it as root (sudo). -WhatIf shows the plan without it. Nothing was changed.",
            DiagnosticCategory.PermissionDenied));

    internal static Diagnostic PortMissing(string port, string? networkNamespace) =>
        Diagnostic.Warning(RuntimeCodes.PortDeviceNotFound,
            $"There is no interface '{port}'" + (networkNamespace is null ? "" : $" in network namespace {networkNamespace}") +
            ": the binding is kept and its rules will match the port once it exists (check the name if it should exist now).") with { Value = port };
}
