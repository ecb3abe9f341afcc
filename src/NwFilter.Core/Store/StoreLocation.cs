using System.Runtime.InteropServices;

namespace NwFilter.Core.Store;

/// <summary>
/// Where NwFilter keeps its files: the configuration directory (filter definitions, one <c>&lt;name&gt;.xml</c> each)
/// and the state directory (runtime state such as bindings and learned addresses).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The environment variables <c>NWFILTER_CONFIG_DIR</c> and <c>NWFILTER_STATE_DIR</c> win when set (scripts and
/// tests rely on those two names).</item>
/// <item>Otherwise root uses <c>/etc/nwfilter</c> and <c>/run/nwfilter</c>.</item>
/// <item>Any other user uses <c>$XDG_DATA_HOME/nwfilter</c> (default <c>~/.local/share/nwfilter</c>) and
/// <c>$XDG_RUNTIME_DIR/nwfilter</c> (default <c>/tmp/nwfilter-&lt;uid&gt;</c>).</item>
/// </list>
/// A relative XDG value is ignored, as the XDG specification asks; a relative override is taken from the current
/// directory.
/// </remarks>
/// <param name="ConfigDirectory">Filter definitions.</param>
/// <param name="StateDirectory">Runtime state.</param>
public sealed record StoreLocation(string ConfigDirectory, string StateDirectory)
{
    /// <summary>Overrides the configuration directory.</summary>
    public const string ConfigDirectoryVariable = "NWFILTER_CONFIG_DIR";

    /// <summary>Overrides the state directory.</summary>
    public const string StateDirectoryVariable = "NWFILTER_STATE_DIR";

    /// <summary>The directory holding the filter definitions (<c>&lt;name&gt;.xml</c>, the libvirt layout).</summary>
    public string FilterDirectory => ConfigDirectory;

    /// <summary>The location for the current process: its environment and its effective user.</summary>
    public static StoreLocation Resolve() =>
        Resolve(Environment.GetEnvironmentVariable, EffectiveUserId(), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>The location for the given environment and user (testable form of <see cref="Resolve()"/>).</summary>
    /// <param name="environment">Reads an environment variable.</param>
    /// <param name="userId">The effective user id; 0 is root.</param>
    /// <param name="home">The user's home directory.</param>
    public static StoreLocation Resolve(Func<string, string?> environment, uint userId, string home)
    {
        ArgumentNullException.ThrowIfNull(environment);
        string? Absolute(string variable)
        {
            var value = environment(variable);
            return !string.IsNullOrEmpty(value) && Path.IsPathRooted(value) ? value : null;
        }

        string config, state;
        if (userId == 0)
        {
            config = "/etc/nwfilter";
            state = "/run/nwfilter";
        }
        else
        {
            var data = Absolute("XDG_DATA_HOME") ?? Path.Combine(home, ".local", "share");
            config = Path.Combine(data, "nwfilter");
            var runtime = Absolute("XDG_RUNTIME_DIR");
            state = runtime is null ? Path.Combine(Path.GetTempPath(), $"nwfilter-{userId}") : Path.Combine(runtime, "nwfilter");
        }
        string? Override(string variable) => environment(variable) is { Length: > 0 } value ? value : null;
        return new(
            Path.GetFullPath(Override(ConfigDirectoryVariable) ?? config),
            Path.GetFullPath(Override(StateDirectoryVariable) ?? state));
    }

    /// <summary>True when the process runs as root (effective uid 0).</summary>
    public static bool IsRoot => EffectiveUserId() == 0;

    private static uint EffectiveUserId()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return uint.MaxValue;
        }
        try
        {
            return NativeMethods.geteuid();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return uint.MaxValue;
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = false)]
        internal static extern uint geteuid();
    }
}
