using System.Diagnostics;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>The console host of the runtime (tests/NwFilter.ConsoleHost), built beside the tests, run as a process.</summary>
public static class ConsoleHost
{
    /// <summary>The host's build output, beside ours: same configuration.</summary>
    public static string AssemblyPath()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // bin/<Configuration>/net10.0/
        var path = Path.Combine(Repository.Root, "tests", "NwFilter.ConsoleHost", "bin", configuration, "net10.0", "NwFilter.ConsoleHost.dll");
        Assert.True(File.Exists(path), $"console host not built: {path}");
        return path;
    }

    /// <summary>Runs it with <paramref name="arguments"/> and the given environment; returns its exit code and output.</summary>
    public static (int ExitCode, string Output, string Errors) Run(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(AssemblyPath());
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"console host {string.Join(' ', arguments)} did not end within 2 minutes");
        }
        return (process.ExitCode, output.GetAwaiter().GetResult(), errors.GetAwaiter().GetResult());
    }

    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }
        var process = Environment.ProcessPath;
        return process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process : "dotnet";
    }
}
