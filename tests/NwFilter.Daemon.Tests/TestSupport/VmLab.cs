using System.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Daemon.Tests.TestSupport;

/// <summary>
/// One vm-lab (<c>../shared/tools/vm-lab</c>: libvirtd 9.0 with its qemu driver in network namespace <c>vmlab</c>, TCG
/// guests on bridge nwlab0) whose nwfilter driver is our forwarding module (<c>out/libvirt</c>, built by
/// <c>build.ps1 -Task Bridge</c>), and nwfilterd on the socket that libvirtd sees as
/// <c>/run/libvirt/virtnwfilterd-sock</c>, in the lab's namespace. Shared by the tests of a class: two guests run
/// throughout, <see cref="Filtered"/> (<c>&lt;filterref filter='clean-traffic'/&gt;</c>) and <see cref="Unfiltered"/>
/// (no filter: the positive control of every drop). <c>vm-lab down</c> at the end, also when the set-up failed.
/// Resource <c>vmlab</c>: root, vm-lab and the built module.
/// </summary>
public sealed class VmLab : IAsyncLifetime
{
    public const string Filtered = "nwb-filtered";
    public const string Unfiltered = "nwb-open";
    public const string Gateway = "10.97.0.1";

    private readonly string? _absent;
    private readonly List<string> _journal = [];
    private readonly string? _namespace;
    private readonly bool _guests = true;
    private TempDirectory? _dir;
    private bool _up;

    public VmLab()
    {
        var root = RepositoryRoot();
        Tool = Environment.GetEnvironmentVariable("NWFILTER_VMLAB") ?? Path.GetFullPath(Path.Combine(root, "../shared/tools/vm-lab"));
        Module = Path.Combine(root, "out", "libvirt", "libvirt_driver_nwfilter.so");
        var bridge = Path.Combine(root, "out", "libvirt", "nwfilter-bridge");
        VmLabDirectory = Environment.GetEnvironmentVariable("VMLAB_DIR") ?? "/tmp/vmlab";
        NetworkNamespace = Environment.GetEnvironmentVariable("VMLAB_NS") ?? "vmlab";
        _absent = !StoreLocation.IsRoot ? "vm-lab and nwfilterd's firewall need root"
            : !File.Exists(Tool) ? $"vm-lab is not at {Tool}"
            : !File.Exists(Module) || !File.Exists(bridge) ? $"the forwarding module is not built ({Module}, {bridge}: build.ps1 -Task Bridge needs gcc, make, pkg-config, libvirt-dev)"
            : null;
    }

    /// <summary>
    /// A lab of its own (<c>VMLAB_DIR</c> <paramref name="directory"/>, <c>VMLAB_NS</c> <paramref name="networkNamespace"/>),
    /// next to the default one, with nwfilterd but without the two shared guests unless <paramref name="guests"/>:
    /// the migration tests run two of these at once.
    /// </summary>
    internal VmLab(string directory, string networkNamespace, bool guests)
        : this()
    {
        VmLabDirectory = directory;
        NetworkNamespace = networkNamespace;
        _namespace = networkNamespace;
        _guests = guests;
    }

    public string Tool { get; }

    public string Module { get; }

    public string VmLabDirectory { get; }

    /// <summary>The lab's network namespace (libvirtd, the bridge, the taps, nwfilterd and every rule are in it).</summary>
    public string NetworkNamespace { get; }

    /// <summary>libvirtd's socket: <c>virsh -c</c> this URI reaches the lab's libvirtd from anywhere.</summary>
    public string LibvirtUri => $"qemu:///system?socket={Path.Combine(VmLabDirectory, "run", "libvirt-sock")}";

    /// <summary>The socket nwfilterd listens on: libvirtd's /run/libvirt is the lab's root/run.</summary>
    public string Socket => Path.Combine(VmLabDirectory, "root", "run", "virtnwfilterd-sock");

    internal DaemonProcess? Daemon { get; private set; }

    public string StateDirectory => _dir!.Combine("state");

    /// <summary>The filtered guest's DHCP address (it keeps it through save/restore and restarts).</summary>
    public string FilteredAddress { get; private set; } = "";

    public string UnfilteredAddress { get; private set; } = "";

    /// <summary>What the set-up measured and did, for the tests' output.</summary>
    public IReadOnlyList<string> Journal => _journal;

    /// <summary>Skips (or fails, when the run asserts <c>vmlab</c>) unless the lab could be built; throws if it was not.</summary>
    public void Require()
    {
        Requirement.Require("vmlab", _absent is null, _absent ?? "");
        if (!_up)
        {
            throw new InvalidOperationException("the lab did not come up:\n" + string.Join("\n", _journal));
        }
    }

    public async Task InitializeAsync()
    {
        if (_absent is not null)
        {
            return;
        }
        try
        {
            // libvirtd's fixed directories are bind-mounted over in the lab's mount namespace: the mount points must
            // exist (a host without libvirt-daemon-system has none of /var/lib/libvirt, /var/cache/libvirt, ...).
            foreach (var d in new[] { "/etc/libvirt", "/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt" })
            {
                Directory.CreateDirectory(d);
            }
            await Lab("down"); // a crashed run's lab
            CopyDownloads();
            var clock = Stopwatch.StartNew();
            (await Run("env", [$"VMLAB_NWFILTER={Module}", .. LabEnvironment, Tool, "up"], 600)).EnsureSuccess();
            _journal.Add($"vm-lab up: {clock.Elapsed.TotalSeconds:0.0} s");
            _dir = new TempDirectory("nwfilter-vmlab");
            await StartDaemonAsync();
            if (!_guests)
            {
                _up = true;
                return;
            }
            (await Lab("define", Unfiltered)).EnsureSuccess();
            (await Lab("define", Filtered, "--filter", "clean-traffic")).EnsureSuccess();
            clock.Restart();
            var open = Lab("start", Unfiltered, "--wait-ip");
            var filtered = Lab("start", Filtered, "--wait-ip");
            UnfilteredAddress = (await open).EnsureSuccess().StandardOutput.Trim();
            FilteredAddress = (await filtered).EnsureSuccess().StandardOutput.Trim();
            _journal.Add($"two guests started, to their leases: {clock.Elapsed.TotalSeconds:0.0} s");
            _up = true;
        }
        catch (Exception e)
        {
            _journal.Add(e.ToString());
            if (Daemon is not null)
            {
                _journal.AddRange(Daemon.Lines);
            }
        }
    }

    public async Task DisposeAsync()
    {
        if (_absent is not null)
        {
            return;
        }
        await Lab("down");
        if (Daemon is not null)
        {
            await Daemon.DisposeAsync();
        }
        _dir?.Dispose();
    }

    /// <summary>nwfilterd on <see cref="Socket"/> in the lab's namespace, over the lab's config and state directories.</summary>
    public async Task StartDaemonAsync()
    {
        Daemon = await DaemonProcess.StartOnSocketAsync(_dir!, Socket, NetworkNamespace, []);
    }

    /// <summary>SIGTERM to nwfilterd; its exit code.</summary>
    public async Task<int> StopDaemonAsync()
    {
        var code = await Daemon!.StopAsync();
        await Daemon.DisposeAsync();
        Daemon = null;
        return code;
    }

    /// <summary><c>vm-lab ARGS</c> (no shell).</summary>
    public Task<ProcessResult> Lab(params string[] args) =>
        _namespace is null ? Run(Tool, args, 300) : Run("env", [.. LabEnvironment, Tool, .. args], 300);

    /// <summary>VMLAB_DIR and VMLAB_NS of a lab of its own (none for the default lab: the environment's, else vm-lab's defaults).</summary>
    public string[] LabEnvironment => _namespace is null ? [] : [$"VMLAB_DIR={VmLabDirectory}", $"VMLAB_NS={_namespace}"];

    /// <summary><c>vm-lab virsh ARGS</c>: virsh against the lab's libvirtd (qemu:///system), through our module for nwfilter.</summary>
    public Task<ProcessResult> Virsh(params string[] args) => Lab(["virsh", .. args]);

    /// <summary>A shell command inside a guest (over its serial command channel, which no filter touches).</summary>
    public Task<ProcessResult> Exec(string guest, string command) => Lab("exec", guest, command);

    /// <summary>
    /// After a restore: vm-lab exec waits for the guest's boot-time "VMLAB-READY" line in its console log, which the
    /// restore may start afresh; the guest's command server was saved running and runs on, so the line is put back.
    /// </summary>
    public async Task MarkRestoredAsync(string guest)
    {
        var console = Path.Combine(VmLabDirectory, guest + ".console");
        if (!File.Exists(console) || !(await File.ReadAllTextAsync(console)).Contains("VMLAB-READY", StringComparison.Ordinal))
        {
            await File.AppendAllTextAsync(console, "\nVMLAB-READY (put back by the test after a restore)\n");
        }
    }

    /// <summary>The guest's tap devices (virsh domiflist).</summary>
    public async Task<IReadOnlyList<string>> PortsOf(string guest)
    {
        var list = (await Virsh("domiflist", guest)).EnsureSuccess().StandardOutput;
        return [.. list.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("vnet", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0])];
    }

    /// <summary>The ports nwfilterd holds bindings for, as libvirt's qemu driver sees them (virsh nwfilter-binding-list).</summary>
    public async Task<IReadOnlyList<string>> Bindings()
    {
        var list = (await Virsh("nwfilter-binding-list")).EnsureSuccess().StandardOutput;
        return [.. list.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("vnet", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// True when a ping from <paramref name="guest"/> with source address <paramref name="source"/> (added to its eth0
    /// for the ping, removed after) is answered by the lab's gateway.
    /// </summary>
    public async Task<bool> PingAnsweredFrom(string guest, string source)
    {
        var r = await Exec(guest, $"ip addr add {source}/24 dev eth0; ping -c 2 -W 2 -I {source} {Gateway} >/dev/null 2>&1; rc=$?; ip addr del {source}/24 dev eth0; exit $rc");
        return r.ExitCode == 0;
    }

    /// <summary>True when the guest's own address reaches the gateway.</summary>
    public async Task<bool> OwnPingAnswered(string guest) =>
        (await Exec(guest, $"ping -c 2 -W 2 {Gateway} >/dev/null 2>&1")).ExitCode == 0;

    /// <summary>The address nwfilterd learned for a port (its lease file), or null; waits up to <paramref name="seconds"/>.</summary>
    public async Task<string?> LearnedAddress(string port, int seconds = 30)
    {
        var file = Path.Combine(StateDirectory, "leases", port + ".json");
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); ;)
        {
            if (File.Exists(file))
            {
                using var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(file));
                var first = json.RootElement.GetProperty("addresses").EnumerateArray().Select(a => a.GetProperty("address").GetString()).FirstOrDefault();
                if (first is not null)
                {
                    return first;
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                return null;
            }
            await Task.Delay(250);
        }
    }

    public static async Task<ProcessResult> Run(string program, string[] args, int timeoutSeconds) =>
        await ProcessRunner.Default.RunAsync(new ProcessRequest(program, args) { Timeout = TimeSpan.FromSeconds(timeoutSeconds) });

    /// <summary>A lab of its own reuses the default lab's downloaded guest kernel and busybox packages (vm-lab keeps them at down).</summary>
    private void CopyDownloads()
    {
        var own = Path.Combine(VmLabDirectory, "dl");
        const string shared = "/tmp/vmlab/dl";
        if (_namespace is null || Directory.Exists(own) || !Directory.Exists(shared))
        {
            return;
        }
        Directory.CreateDirectory(own);
        foreach (var deb in Directory.EnumerateFiles(shared, "*.deb"))
        {
            File.Copy(deb, Path.Combine(own, Path.GetFileName(deb)));
        }
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "NwFilter.sln")))
            {
                return d.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }
}
