using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Apply;

/// <summary>Whether bridged traffic passes through the iptables (or ip6tables) hooks.</summary>
internal enum BridgeHookState
{
    /// <summary><c>net.bridge.bridge-nf-call-iptables</c> is 1: iptables rules see bridged IPv4 traffic.</summary>
    On,
    /// <summary>The setting is 0: iptables rules never see bridged traffic.</summary>
    Off,
    /// <summary>The setting does not exist: the br_netfilter module is not loaded, so the hooks are off.</summary>
    ModuleNotLoaded,
    /// <summary>It could not be read.</summary>
    Unknown,
}

/// <summary>
/// The bridge netfilter settings of the network namespace where the rules go (they are per namespace). libvirt's
/// iptables/ip6tables rules match bridged traffic only through these hooks; with them off the rules are installed and
/// silently never apply, so NwFilter says so.
/// </summary>
/// <param name="IPv4">net.bridge.bridge-nf-call-iptables.</param>
/// <param name="IPv6">net.bridge.bridge-nf-call-ip6tables.</param>
internal sealed record BridgeNetfilterStatus(BridgeHookState IPv4, BridgeHookState IPv6)
{
    public BridgeHookState IPv4 { get; internal init; } = IPv4;
    public BridgeHookState IPv6 { get; internal init; } = IPv6;

    public const string IPv4Path = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    public const string IPv6Path = "/proc/sys/net/bridge/bridge-nf-call-ip6tables";

    /// <summary>Reads both settings with one <c>cat</c> in the runner's namespace (/proc/sys/net is per namespace).</summary>
    public static async Task<BridgeNetfilterStatus> ProbeAsync(IProcessRunner runner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ProcessResult result;
        try
        {
            result = await runner.RunAsync(new ProcessRequest("cat", IPv4Path, IPv6Path) { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new BridgeNetfilterStatus(BridgeHookState.Unknown, BridgeHookState.Unknown);
        }
        return Parse(result.StandardOutput, result.StandardError);
    }

    /// <summary>Reads <c>cat</c>'s output: one value per existing file, in order, and an error line per missing one.</summary>
    public static BridgeNetfilterStatus Parse(string output, string error)
    {
        var values = new Queue<string>(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        BridgeHookState Next(string path)
        {
            if (error.Contains(path, StringComparison.Ordinal))
            {
                return error.Contains("No such file", StringComparison.Ordinal) ? BridgeHookState.ModuleNotLoaded : BridgeHookState.Unknown;
            }
            return values.TryDequeue(out var v) ? v == "0" ? BridgeHookState.Off : v == "1" ? BridgeHookState.On : BridgeHookState.Unknown : BridgeHookState.Unknown;
        }
        var v4 = Next(IPv4Path);
        return new BridgeNetfilterStatus(v4, Next(IPv6Path));
    }

    /// <summary>The warning for a family whose rules would not see bridged traffic, or null when they would.</summary>
    public Diagnostic? Warn(bool ipv6, IReadOnlyCollection<string> ports, string? networkNamespace)
    {
        var state = ipv6 ? IPv6 : IPv4;
        if (state == BridgeHookState.On || ports.Count == 0)
        {
            return null;
        }
        var setting = ipv6 ? "net.bridge.bridge-nf-call-ip6tables" : "net.bridge.bridge-nf-call-iptables";
        var where = networkNamespace is null ? "this host" : $"network namespace {networkNamespace}";
        var why = state switch
        {
            BridgeHookState.Off => $"{setting} is 0 in {where}",
            BridgeHookState.ModuleNotLoaded => $"the br_netfilter module is not loaded ({setting} does not exist in {where})",
            _ => $"{setting} could not be read in {where}",
        };
        var tool = ipv6 ? "ip6tables" : "iptables";
        var fix = state == BridgeHookState.ModuleNotLoaded ? $"modprobe br_netfilter, then sysctl -w {setting}=1" : $"sysctl -w {setting}=1";
        return Diagnostic.Warning(ApplyCodes.BridgeNetfilterOff,
            $"The {tool} rules of {string.Join(", ", ports)} do not apply to bridged traffic: {why}. They are installed but no bridged " +
            $"packet reaches them (the ebtables rules do apply). To enforce them: {fix}.") with { Value = setting };
    }
}
