using System.Diagnostics;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Store;

/// <summary>Two OS processes write into one store at the same moment; the lock and the atomic renames keep it whole.</summary>
public class TwoWriterTests
{
    private const int PerWriter = 100;

    [Fact]
    public async Task TwoProcessesDefiningAtOnceLoseNothingAndLeaveNoTornFile()
    {
        using var dir = new TempDirectory();
        var store = dir.Combine("store");
        var go = dir.Combine("go");
        var writers = new[] { Start(store, "first", go), Start(store, "second", go) };
        try
        {
            foreach (var w in writers)
            {
                Assert.Equal("ready", await w.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)));
            }
            await File.WriteAllTextAsync(go, "");
            foreach (var w in writers)
            {
                await w.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
                Assert.True(w.ExitCode == 0, $"writer failed ({w.ExitCode}): {await w.StandardError.ReadToEndAsync()}");
            }
        }
        finally
        {
            foreach (var w in writers)
            {
                if (!w.HasExited)
                {
                    w.Kill();
                }
                w.Dispose();
            }
        }

        var files = Directory.GetFiles(store).Select(Path.GetFileName).ToList();
        Assert.DoesNotContain(files, f => f!.EndsWith(".tmp", StringComparison.Ordinal));
        Assert.Equal(2 * PerWriter, files.Count(f => f!.EndsWith(".xml", StringComparison.Ordinal)));
        foreach (var prefix in new[] { "first", "second" })
        {
            for (var i = 0; i < PerWriter; i++)
            {
                var path = Path.Combine(store, $"{prefix}-{i}.xml");
                var filter = NwFilterXmlReader.ReadFilter(File.ReadAllText(path)).Value;
                Assert.Equal($"{prefix}-{i}", filter.Name);
                Assert.NotNull(filter.Uuid);
            }
        }
        var listing = new FilterStore(store).List();
        Assert.Empty(listing.Problems);
        Assert.Equal(2 * PerWriter, listing.Filters.Count(f => f.Origin == FilterOrigin.Defined));
        Assert.Equal(listing.Filters.Length, listing.Filters.Select(f => f.Uuid).Distinct().Count());
    }

    private static Process Start(string store, string prefix, string go)
    {
        var helper = HelperPath();
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { helper, store, prefix, PerWriter.ToString(System.Globalization.CultureInfo.InvariantCulture), go })
        {
            info.ArgumentList.Add(a);
        }
        return Process.Start(info)!;
    }

    /// <summary>The helper's build output, beside ours: same configuration.</summary>
    internal static string HelperPath()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // bin/<Configuration>/net10.0/
        var path = Path.Combine(Repository.Root, "tests", "NwFilter.StoreWriter", "bin", configuration, "net10.0", "NwFilter.StoreWriter.dll");
        Assert.True(File.Exists(path), $"helper not built: {path}");
        return path;
    }

    internal static string DotnetHost()
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
