using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NwFilter.Core.Host;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// The memory of the real nwfilterd process (root): the laid-out <c>out/nwfilterd/nwfilterd</c> (its own runtimeconfig)
/// in a throw-away namespace with a bridge and N veth ports; N - L clean-traffic bindings with their IP created through
/// libvirt's RPC from 16 connections, then L that learn by DHCP snooping (each a learner with a capture on its port);
/// the daemon's VmRSS, threads and anonymous/file-backed split after each step and after an idle minute. The daemon
/// inherits this process's environment, so GC settings can be tried with DOTNET_* variables (they override the
/// runtimeconfig).
/// </summary>
public sealed class DaemonMemoryScenario : IScenario
{
    public string Name => "daemonmem";

    public string Description => "(root) RSS of the nwfilterd process with N bindings of which L learn: daemonmem [n=1000] [learning=100] [idle=60] [daemon=PATH]";

    public int Run(string[] args)
    {
        string Arg(string name, string fallback) => args.FirstOrDefault(a => a.StartsWith(name + "=", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..] ?? fallback;
        var n = int.Parse(Arg("n", "1000"), CultureInfo.InvariantCulture);
        var learning = int.Parse(Arg("learning", "100"), CultureInfo.InvariantCulture);
        var idle = int.Parse(Arg("idle", "60"), CultureInfo.InvariantCulture);
        var laidOut = Path.Combine(Locations.RepositoryRoot, "out", "nwfilterd", "nwfilterd");
        var daemon = Arg("daemon", File.Exists(laidOut) ? laidOut : Path.Combine(AppContext.BaseDirectory, "nwfilterd.dll"));
        var extra = Arg("args", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        return RunAsync(n, learning, idle, daemon, extra).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int n, int learning, int idle, string exe, string[] extra)
    {
        var ns = string.Create(CultureInfo.InvariantCulture, $"nwfbench-m-{Environment.ProcessId}");
        var dir = Path.Combine(Path.GetTempPath(), ns);
        Directory.CreateDirectory(dir);
        Process? daemon = null;
        try
        {
            Ip(null, $"netns add {ns}\n");
            var links = new StringBuilder("link set lo up\nlink add br0 type bridge\nlink set br0 up\n");
            for (var i = 0; i < n; i++)
            {
                links.Append(CultureInfo.InvariantCulture, $"link add vnet{i} type veth peer name peer{i}\nlink set vnet{i} master br0\nlink set vnet{i} up\nlink set peer{i} up\n");
            }
            Ip(ns, links.ToString());
            var socket = Path.Combine(dir, "sock");
            var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, UseShellExecute = false };
            string[] command = exe.EndsWith(".dll", StringComparison.Ordinal) ? ["dotnet", exe] : [exe];
            foreach (var a in new[] { "netns", "exec", ns }.Concat(command).Concat(["--libvirt-socket", socket, "--libvirt-binding-dir", Path.Combine(dir, "none"), "--control-socket", Path.Combine(dir, "control.sock"), .. extra]))
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment["NWFILTER_CONFIG_DIR"] = Path.Combine(dir, "config");
            psi.Environment["NWFILTER_STATE_DIR"] = Path.Combine(dir, "state");
            daemon = Process.Start(psi)!;
            var listening = new TaskCompletionSource();
            var learners = new HashSet<string>(StringComparer.Ordinal); // "learner PORT: MODE" (again when the learning service takes it over)
            daemon.OutputDataReceived += (_, e) =>
            {
                if (e.Data?.StartsWith("listening on", StringComparison.Ordinal) == true)
                {
                    listening.TrySetResult();
                }
                else if (e.Data?.StartsWith("learner ", StringComparison.Ordinal) == true)
                {
                    lock (learners)
                    {
                        learners.Add(e.Data.Split(':')[0]);
                    }
                }
                else if (e.Data?.StartsWith("memory: ", StringComparison.Ordinal) == true)
                {
                    Memory.Writer.TryWrite(e.Data);
                }
            };
            daemon.BeginOutputReadLine();
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var knobs = string.Join(" ", Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => (k.StartsWith("DOTNET_", StringComparison.Ordinal) || k.StartsWith("MALLOC_", StringComparison.Ordinal) || k.StartsWith("NWFILTER_", StringComparison.Ordinal)) && !k.StartsWith("DOTNET_CLI", StringComparison.Ordinal) && k is not ("DOTNET_ROOT" or "DOTNET_NOLOGO" or "DOTNET_GENERATE_ASPNET_CERTIFICATE")).Order().Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}"));
            Console.WriteLine($"nwfilterd memory: {exe} {string.Join(" ", extra)}, {n} clean-traffic bindings, {learning} learning (dhcp); {(knobs.Length == 0 ? "no DOTNET_/MALLOC_ settings" : knobs)}; {Measure.Machine}");
            await Report(daemon.Id, "idle, no binding");

            var next = -1;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                using var c = await DaemonScenario.Client.OpenAsync(socket);
                int i;
                while ((i = Interlocked.Increment(ref next)) < n - learning)
                {
                    await c.CreateAsync(i, "vnet", learns: false);
                }
            })));
            await Report(daemon.Id, $"{n - learning} bindings with their IP ({clock.Elapsed.TotalSeconds:0.0} s)");

            clock.Restart();
            using (var c = await DaemonScenario.Client.OpenAsync(socket))
            {
                for (var i = n - learning; i < n; i++)
                {
                    await c.CreateAsync(i, "vnet", learns: true);
                }
            }
            for (var deadline = DateTime.UtcNow.AddMinutes(5); Count(learners) < learning && DateTime.UtcNow < deadline;)
            {
                await Task.Delay(500);
            }
            await Task.Delay(2000);
            await Report(daemon.Id, $"+ {learning} learning ({Count(learners)} learners started, {clock.Elapsed.TotalSeconds:0.0} s)");
            // steady state: the drift repair's check every 30 s allocates, the trim gives it back; one sample a second
            var samples = new List<double>();
            for (var t = 0; t < idle; t++)
            {
                await Task.Delay(1000);
                samples.Add(Rss(daemon.Id) / 1024.0);
            }
            samples.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| idle {idle} s, RSS once a second | min {samples[0]:0.0} MiB | median {samples[samples.Count / 2]:0.0} MiB | p90 {samples[(int)(samples.Count * 0.9)]:0.0} MiB | max {samples[^1]:0.0} MiB |"));
            await Report(daemon.Id, $"after {idle} s idle");
            return 0;
        }
        finally
        {
            if (daemon is { HasExited: false })
            {
                _ = Kill(daemon.Id, 15);
                daemon.WaitForExit(30_000);
            }
            ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "netns", "delete", ns)).GetAwaiter().GetResult();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static long Rss(int pid) => File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
        .Select(l => long.Parse(l[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture)).FirstOrDefault();

    private static int Count(HashSet<string> set)
    {
        lock (set)
        {
            return set.Count;
        }
    }

    private static readonly System.Threading.Channels.Channel<string> Memory = System.Threading.Channels.Channel.CreateUnbounded<string>();

    private static async Task Report(int pid, string step)
    {
        long Field(string file, string name) => File.ReadLines(file).Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            .Select(l => long.Parse(l[(name.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture)).FirstOrDefault();
        var status = $"/proc/{pid}/status";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {step} | RSS {Field(status, "VmRSS") / 1024.0:0.0} MiB | anonymous {Field(status, "RssAnon") / 1024.0:0.0} MiB | file {Field(status, "RssFile") / 1024.0:0.0} MiB | {Field(status, "Threads")} threads |"));
        // the daemon's own view (SIGUSR1: nwfilterd logs its managed heap and what the GC keeps committed)
        _ = Kill(pid, 10);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            Console.WriteLine("|   | " + await Memory.Reader.ReadAsync(wait.Token) + " |");
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine("|   | (no memory line from nwfilterd within 10 s) |");
        }
    }

    private static void Ip(string? ns, string batch)
    {
        string[] args = ns is null ? ["-batch", "-"] : ["-n", ns, "-batch", "-"];
        ProcessRunner.Default.RunAsync(new ProcessRequest("ip", args) { StandardInput = batch, Timeout = TimeSpan.FromMinutes(5) }).GetAwaiter().GetResult().EnsureSuccess();
    }

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
