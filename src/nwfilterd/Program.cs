using System.Net.Sockets;
using System.Runtime.InteropServices;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Daemon;
using NwFilter.Daemon.Procedures;
using NwFilter.Daemon.Server;

// nwfilterd: libvirt's nwfilter driver as a daemon over NwFilter's runtime (docs/design/libvirt-daemon.md).
// Exit codes: 0 stopped by SIGTERM/SIGINT, 1 could not start, 2 bad usage.
if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(DaemonOptions.Usage);
    return 0;
}
var (options, usageError) = DaemonOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine($"nwfilterd: {usageError}");
    Console.Error.WriteLine(DaemonOptions.Usage);
    return 2;
}
var log = new DaemonLog(Console.Out, options.Verbose);
uint? group = null;
if (options.Group is { } groupName)
{
    group = Daemon.GroupId(groupName);
    if (group is null)
    {
        log.Line($"error: group '{groupName}' does not exist (see /etc/group)");
        return 1;
    }
}
await using var runtime = new NwFilterRuntime(new NwFilterRuntimeOptions { DriftRepair = options.DriftRepair });
// libvirt's bindings for ports nwfilterd does not hold (an import takes them over instead).
if (!options.ImportLibvirt && LibvirtImport.Unheld(runtime, Daemon.LibvirtBindings(options.LibvirtBindingDirectory)) is { Count: > 0 } theirs)
{
    // libvirt's own driver writes the very chain names EbIpTables mode writes: each would tear down the other's rules.
    var what = $"libvirt's own nwfilter driver holds {theirs.Count} binding(s) in {options.LibvirtBindingDirectory} ({string.Join(", ", theirs.Take(5))})";
    var eb = options.Backend == FirewallBackendKind.EbIpTables;
    if (options.Backend is null)
    {
        // auto: EbIpTables when the setting says so, or where nftables is unusable (the runtime would fall back).
        BackendPreference preference;
        try
        {
            (preference, _) = BackendSelection.ReadSetting(NwFilter.Core.Store.StoreLocation.Resolve().ConfigDirectory);
        }
        catch (NwFilter.Core.Diagnostics.NwFilterException e)
        {
            log.Line($"error {e.Primary.Code}: {e.Primary.Message}");
            return 1;
        }
        eb = preference == BackendPreference.EbIpTables ||
            (preference == BackendPreference.Auto && !(await NftablesProbe.ProbeAsync(null, NwFilter.Core.Host.ProcessRunner.Default, privileged: true)).Usable);
    }
    if (eb)
    {
        log.Line($"error LibvirtNwFilterConflict: {what}; in EbIpTables mode both would write chains libvirt-I-PORT/libvirt-O-PORT and tear down each other's rules. Stop libvirt's nwfilter driver (and delete its bindings) first, take them over with --import-libvirt (libvirt's driver stopped), or use --backend Nftables.");
        return 1;
    }
    log.Line($"warning LibvirtNwFilterConflict: {what}; a port filtered by both is misconfigured (nwfilterd's nftables tables stay apart from libvirt's chains).");
}

using var stop = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.Cancel();
});
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
{
    c.Cancel = true;
    stop.Cancel();
});

List<Listener> listeners;
try
{
    listeners = Daemon.Listeners(options, group, log);
}
catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
{
    log.Line($"error: cannot listen on {options.Socket}: {e.Message}");
    return 1;
}
log.Line($"nwfilterd {typeof(Daemon).Assembly.GetName().Version} starting: filters in {runtime.Location.FilterDirectory}, state in {runtime.Location.StateDirectory}, default backend {options.Backend?.ToString() ?? "auto (the module's: NWFILTER_BACKEND, nwfilter.conf, else Nftables where usable)"}, drift repair {(options.DriftRepair ? "on" : "off")}");

// The import comes before the restore: the restore removes chains of ports without a binding, libvirt's among them.
if (options.ImportLibvirt)
{
    var imported = await LibvirtImport.RunAsync(runtime, options.LibvirtFilterDirectory, options.LibvirtBindingDirectory, log, stop.Token);
    log.Line(imported ? "import: done" : "import: done, with errors (see above); what could be imported is in");
}

// Restore first (a reconcile: what is in force and right is left alone), then serve; clients wait in the backlog.
var restored = await runtime.HandleAsync(new RestoreBindingsRequest(), log, stop.Token);
log.Line($"restored {restored.Items.Count(i => i.Succeeded)} of {restored.Items.Length} binding(s){(restored.Items.Any(i => !i.Succeeded) ? "; failed: " + string.Join(", ", restored.Items.Where(i => !i.Succeeded).Select(i => i.PortDevice)) : "")}");
if (restored.Repairs.Count(r => r.Repaired) is var repaired and > 0)
{
    log.Line($"repaired {repaired} port(s) at start (the information BindingRepaired lines above say what was found and done)");
}

var procedures = new NwFilterProcedures(runtime, log, options.Backend, log.Line);
var dispatcher = procedures.CreateDispatcher((h, e) => log.Line($"error: {h}: {e}"));
var server = new UnixSocketServer(dispatcher, log.Line, group, requestTimeout: options.RequestTimeout);
var control = new ControlServer(runtime, log, procedures.Changes, group, $"nwfilterd {typeof(Daemon).Assembly.GetName().Version}");
var learning = Task.Run(() => runtime.HandleAsync(new LearningServiceRequest(null, restored), log, stop.Token));
var trimming = options.MemoryTrim ? Task.Run(() => new MemoryTrim(procedures.Changes, log.Line).RunAsync(stop.Token)) : Task.CompletedTask;
var serving = listeners.Where(l => !l.Control).Select(l => server.RunAsync(l, stop.Token))
    .Concat(listeners.Where(l => l.Control).Select(l => control.RunAsync(l, stop.Token))).ToList();
log.Line($"listening on {string.Join(", ", listeners.Select(l => l.Path + (l.ReadOnly ? " (read-only)" : l.Control ? " (control)" : "")))}");
// SIGUSR1 (10 on Linux): one line of where the daemon's memory is (RSS, the managed heap, what the GC keeps committed).
using var usr1 = PosixSignalRegistration.Create((PosixSignal)10, c =>
{
    c.Cancel = true;
    log.Line(Daemon.MemoryLine());
});
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}
log.Line("stopping: SIGTERM; the rules in force stay");
await Task.WhenAll(serving);
await learning;
await trimming;
log.Line("stopped");
return 0;

/// <summary>Start-up helpers of the daemon.</summary>
internal static partial class Daemon
{
    /// <summary>The process's memory in one line: VmRSS and threads (/proc/self/status), the managed heap after the last GC and what the GC holds committed.</summary>
    public static string MemoryLine()
    {
        long rss = 0;
        var threads = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line[8..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        var gc = GC.GetGCMemoryInfo();
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"memory: RSS {rss / 1024.0:0.0} MiB, {threads} threads; managed heap {gc.HeapSizeBytes / 1048576.0:0.0} MiB after the last GC ({GC.GetTotalMemory(false) / 1048576.0:0.0} MiB now), GC committed {gc.TotalCommittedBytes / 1048576.0:0.0} MiB, {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} collections (gen 0/1/2)");
    }

    /// <summary>The id of a group by name (/etc/group), or a numeric id as given.</summary>
    public static uint? GroupId(string name)
    {
        if (uint.TryParse(name, out var gid))
        {
            return gid;
        }
        foreach (var line in File.Exists("/etc/group") ? File.ReadLines("/etc/group") : [])
        {
            var fields = line.Split(':');
            if (fields.Length >= 3 && fields[0] == name && uint.TryParse(fields[2], out gid))
            {
                return gid;
            }
        }
        return null;
    }

    /// <summary>The port devices of libvirt's own driver's bindings (its XML files), empty when it has none.</summary>
    public static IReadOnlyList<string> LibvirtBindings(string directory) =>
        Directory.Exists(directory) ? [.. Directory.EnumerateFiles(directory, "*.xml").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!] : [];

    /// <summary>The sockets: systemd's (socket activation, LISTEN_FDS) when given, else bound here.</summary>
    public static List<Listener> Listeners(DaemonOptions options, uint? group, DaemonLog log)
    {
        var listeners = new List<Listener>();
        if (Environment.GetEnvironmentVariable("LISTEN_PID") == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) &&
            int.TryParse(Environment.GetEnvironmentVariable("LISTEN_FDS"), out var fds) && fds > 0)
        {
            var names = (Environment.GetEnvironmentVariable("LISTEN_FDNAMES") ?? "").Split(':');
            for (var i = 0; i < fds; i++)
            {
                var socket = new Socket(new SafeSocketHandle(3 + i, ownsHandle: true));
                var path = socket.LocalEndPoint?.ToString() ?? $"fd {3 + i}";
                var readOnly = (i < names.Length && names[i].EndsWith("-ro", StringComparison.Ordinal)) || path == options.ReadOnlySocket;
                var isControl = (i < names.Length && names[i] == "control") || (options.ControlSocket is { } cs && path == cs);
                listeners.Add(new Listener(path, socket, readOnly && !isControl, Owned: false) { Control = isControl });
                log.Line($"socket {path} from systemd{(isControl ? " (control)" : readOnly ? " (read-only)" : "")}");
            }
            if (!listeners.Any(l => l.Control) && options.ControlSocket is { } own)
            {
                listeners.Add(UnixSocketServer.Bind(own, readOnly: false, group) with { Control = true }); // the units pass libvirt's socket only
            }
            return listeners;
        }
        listeners.Add(UnixSocketServer.Bind(options.Socket, readOnly: false, group));
        if (options.ReadOnlySocket is { } ro)
        {
            listeners.Add(UnixSocketServer.Bind(ro, readOnly: true, group: null));
        }
        if (options.ControlSocket is { } control)
        {
            listeners.Add(UnixSocketServer.Bind(control, readOnly: false, group) with { Control = true });
        }
        return listeners;
    }
}
