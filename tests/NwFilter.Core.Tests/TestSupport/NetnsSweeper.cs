using System.Globalization;
using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// Lab namespaces are named <c>nwft-{id}-{pid}-{role}</c>. The sweeper deletes those whose creating process is gone
/// (left by a crashed or killed run), after killing any process still inside them. Namespaces of live runs are kept.
/// </summary>
public static class NetnsSweeper
{
    public const string Prefix = "nwft-";

    /// <summary>All namespaces that carry the lab prefix.</summary>
    public static IReadOnlyList<string> ListLabNamespaces()
    {
        var result = ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "netns", "list")).GetAwaiter().GetResult();
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0])
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>The pid encoded in a lab namespace name, or null.</summary>
    public static int? OwnerPid(string name)
    {
        var parts = name.Split('-');
        return parts.Length >= 4 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    /// <summary>Deletes stale lab namespaces; returns their names.</summary>
    public static IReadOnlyList<string> SweepStale()
    {
        var stale = ListLabNamespaces()
            .Where(n => OwnerPid(n) is not { } pid || (pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}")))
            .ToList();
        Delete(stale);
        return stale;
    }

    /// <summary>Kills every process inside the namespaces, then deletes them; carries on past errors.</summary>
    public static void Delete(IReadOnlyCollection<string> namespaces)
    {
        if (namespaces.Count == 0)
        {
            return;
        }

        var runner = ProcessRunner.Default;
        foreach (var name in namespaces)
        {
            var pids = runner.RunAsync(new ProcessRequest("ip", "netns", "pids", name)).GetAwaiter().GetResult();
            foreach (var line in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (int.TryParse(line.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                {
                    try
                    {
                        System.Diagnostics.Process.GetProcessById(pid).Kill();
                    }
                    catch (ArgumentException)
                    {
                        // Already gone.
                    }
                    catch (InvalidOperationException)
                    {
                        // Already gone.
                    }
                }
            }
        }

        var batch = string.Concat(namespaces.Select(n => $"netns delete {n}\n"));
        runner.RunAsync(new ProcessRequest("ip", "-force", "-batch", "-") { StandardInput = batch, Timeout = TimeSpan.FromSeconds(30) })
            .GetAwaiter().GetResult();
    }
}
