using NwFilter.Core.Diagnostics;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Model;

namespace NwFilter.Core.Backends;

/// <summary>What a binding that names no backend gets (docs/design/nftables.md, "The default backend").</summary>
public enum BackendPreference
{
    /// <summary>nftables where the kernel and libnftables allow it, else EbIpTables (only where no nftables binding exists yet).</summary>
    Auto,
    /// <summary>Always nftables; where it is unusable the binding is refused (no fallback).</summary>
    Nftables,
    /// <summary>Always EbIpTables (libvirt's ebtables/iptables, the compatibility mode).</summary>
    EbIpTables,
}

/// <summary>Whether nftables can be used in one network namespace, and why (or why not).</summary>
/// <param name="Usable">True when the nf_tables kernel interface answers in the namespace and libnftables loads.</param>
/// <param name="Reason">The evidence, for a person: what was checked and what it said.</param>
public sealed record NftablesAvailability(bool Usable, string Reason);

/// <summary>The backend chosen for the bindings of one request that name none, and why.</summary>
/// <param name="Kind">The backend.</param>
/// <param name="Reason">Why, in one sentence (setting, probe result, fallback).</param>
/// <param name="FellBack">True when nftables was preferred but unusable and EbIpTables was taken instead.</param>
public sealed record BackendChoice(FirewallBackendKind Kind, string Reason, bool FellBack = false);

/// <summary>
/// The backend setting and the nftables probe: where the default backend comes from. The setting is read from
/// <see cref="Variable"/> (wins) or the <c>backend</c> key of <see cref="ConfigFileName"/> in the configuration
/// directory (<c>NWFILTER_CONFIG_DIR</c>); absent, it is <see cref="BackendPreference.Auto"/>. The probe runs once per
/// process and namespace (<see cref="Runtime.NftablesProbe.ProbeAsync"/>), or through a seam a host gives (tests simulate a kernel without
/// nf_tables or a missing libnftables that way). Pure: the probe that asks the host is <see cref="Runtime.NftablesProbe"/>.
/// </summary>
public static class BackendSelection
{
    /// <summary>The environment variable that sets the default backend: auto, nftables or ebiptables.</summary>
    public const string Variable = "NWFILTER_BACKEND";

    /// <summary>The configuration file (in the configuration directory), <c>key = value</c> lines, <c>#</c> comments.</summary>
    public const string ConfigFileName = "nwfilter.conf";

    /// <summary>Parses a setting's value (case-insensitive: auto, nftables, ebiptables); null when it is none of them.</summary>
    public static BackendPreference? ParsePreference(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "auto" or "" => BackendPreference.Auto,
        "nftables" or "nft" => BackendPreference.Nftables,
        "ebiptables" or "iptables" => BackendPreference.EbIpTables,
        _ => null,
    };

    /// <summary>
    /// The setting in force and where it comes from: <see cref="Variable"/>, else the configuration file of
    /// <paramref name="configDirectory"/>, else Auto. A value that is not a backend is an error naming where it is.
    /// </summary>
    /// <exception cref="NwFilterException">BackendSettingInvalid: an unknown value or key, with the file and line.</exception>
    public static (BackendPreference Preference, string Source) ReadSetting(string? configDirectory, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(Variable) is { Length: > 0 } value)
        {
            return (ParsePreference(value) ?? throw Invalid($"{Variable}='{value}' is not a backend: use auto, nftables or ebiptables.", Variable),
                $"{Variable}={value.Trim()}");
        }
        if (ConfigValue(configDirectory, "backend") is not { } setting)
        {
            return (BackendPreference.Auto, "the default setting (auto)");
        }
        return (ParsePreference(setting.Text) ?? throw Invalid($"{setting.Where}: '{setting.Text}' is not a backend: use auto, nftables or ebiptables.", setting.Path),
            $"{setting.Where} (backend = {setting.Text})");
    }

    /// <summary>
    /// The value of <paramref name="key"/> in the configuration file of <paramref name="configDirectory"/> (its first
    /// occurrence, with the file and line), or null when there is no directory, no file or no such line. The lines before
    /// it must each be a known setting.
    /// </summary>
    private static (string Text, string Where, string Path)? ConfigValue(string? configDirectory, string key)
    {
        if (configDirectory is null)
        {
            return null;
        }
        var path = Path.Combine(configDirectory, ConfigFileName);
        string[] lines;
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid($"The configuration file {path} cannot be read: {e.Message}", path);
        }
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var hash = line.IndexOf('#', StringComparison.Ordinal);
            line = (hash >= 0 ? line[..hash] : line).Trim();
            if (line.Length == 0)
            {
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? line : line[..eq].Trim();
            if (eq < 0 || !Known(name))
            {
                throw Invalid($"{path}:{i + 1}: '{line}' is not a setting: the file knows 'backend = auto|nftables|ebiptables' and 'counters = on|off'.", path);
            }
            if (name.Equals(key, StringComparison.OrdinalIgnoreCase))
            {
                return (line[(eq + 1)..].Trim(), $"{path}:{i + 1}", path);
            }
        }
        return null;
    }

    /// <summary>The environment variable that sets per-rule counters for bindings that do not say: on or off.</summary>
    public const string CountersVariable = "NWFILTER_COUNTERS";

    private static bool Known(string key) =>
        key.Equals("backend", StringComparison.OrdinalIgnoreCase) || key.Equals("counters", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses a counters setting (case-insensitive: on, off, yes, no, true, false, 1, 0); null when it is none of them.</summary>
    public static bool? ParseCounters(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "on" or "yes" or "true" or "1" => true,
        "off" or "no" or "false" or "0" or "" => false,
        _ => null,
    };

    /// <summary>
    /// Whether bindings that do not say (<see cref="FilterBinding.Counters"/> null) get per-rule counters, and where that
    /// comes from: <see cref="CountersVariable"/>, else the <c>counters</c> key of the configuration file, else off.
    /// </summary>
    /// <exception cref="NwFilterException">BackendSettingInvalid: a value that is not on or off, or an unknown key, with the file and line.</exception>
    public static (bool Counters, string Source) ReadCountersSetting(string? configDirectory, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(CountersVariable) is { Length: > 0 } value)
        {
            return (ParseCounters(value) ?? throw Invalid($"{CountersVariable}='{value}' is not a counters setting: use on or off.", CountersVariable),
                $"{CountersVariable}={value.Trim()}");
        }
        if (ConfigValue(configDirectory, "counters") is not { } setting)
        {
            return (false, "the default setting (counters off)");
        }
        return (ParseCounters(setting.Text) ?? throw Invalid($"{setting.Where}: '{setting.Text}' is not a counters setting: use on or off.", setting.Path),
            $"{setting.Where} (counters = {setting.Text})");
    }

    /// <summary>
    /// The backend for bindings that name none: <paramref name="preference"/> (from <paramref name="source"/>) applied
    /// to <paramref name="nftables"/>; an Auto fallback to EbIpTables only where <paramref name="nftablesBindings"/> is
    /// empty (nothing was applied with nftables yet).
    /// </summary>
    /// <exception cref="NwFilterException"><see cref="NftablesCodes.NftUnavailable"/>: nftables is required (by the setting, or by the namespace's nftables bindings) and unusable.</exception>
    public static BackendChoice Choose(BackendPreference preference, string source, NftablesAvailability nftables, IReadOnlyCollection<string> nftablesBindings)
    {
        ArgumentNullException.ThrowIfNull(nftables);
        ArgumentNullException.ThrowIfNull(nftablesBindings);
        switch (preference)
        {
            case BackendPreference.EbIpTables:
                return new BackendChoice(FirewallBackendKind.EbIpTables, $"EbIpTables, set by {source}");
            case BackendPreference.Nftables:
                return nftables.Usable
                    ? new BackendChoice(FirewallBackendKind.Nftables, $"Nftables, set by {source} ({nftables.Reason})")
                    : throw Unavailable($"nftables is set by {source}, but {nftables.Reason}; nothing was applied. Use -Backend EbIpTables, or set {Variable}=ebiptables.");
            case BackendPreference.Auto:
                if (nftables.Usable)
                {
                    return new BackendChoice(FirewallBackendKind.Nftables, $"Nftables, the default ({nftables.Reason})");
                }
                if (nftablesBindings.Count > 0)
                {
                    throw Unavailable($"nftables is unusable ({nftables.Reason}), and the nftables bindings of {string.Join(", ", nftablesBindings.Order(StringComparer.Ordinal))} " +
                        "already exist, so the default does not fall back to EbIpTables; nothing was applied. Use -Backend EbIpTables to choose it.");
                }
                return new BackendChoice(FirewallBackendKind.EbIpTables, $"EbIpTables, because nftables is unusable ({nftables.Reason}); no nftables binding exists, so the default falls back", FellBack: true);
            default:
                throw new ArgumentOutOfRangeException(nameof(preference), preference, "Unknown backend preference.");
        }
    }

    /// <summary>The refusal of an explicit nftables binding where nftables is unusable (before anything is applied).</summary>
    public static NwFilterException Unavailable(string message) =>
        new(Diagnostic.Error(NftablesCodes.NftUnavailable, message, DiagnosticCategory.ResourceUnavailable));

    private static NwFilterException Invalid(string message, string source) =>
        new(Diagnostic.Error(BackendSettingInvalid, message, DiagnosticCategory.InvalidArgument) with { Value = source });

    /// <summary>The error code of a backend setting that is not one.</summary>
    public const string BackendSettingInvalid = "BackendSettingInvalid";
}
