namespace NwFilter.Core;

/// <summary>Facts about the core library itself.</summary>
public static class NwFilterInfo
{
    /// <summary>The library's version, from the one version source (Directory.Build.props).</summary>
    public static string Version { get; } =
        typeof(NwFilterInfo).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
