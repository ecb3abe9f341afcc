using System.Globalization;
using System.Security.Cryptography;
using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>One VM of the lab: its namespace, its port device on the bridge (in the host namespace) and its addresses.</summary>
/// <param name="Index">0, 1, …</param>
/// <param name="Namespace">The VM's network namespace.</param>
/// <param name="PortDevice">The host side of its veth pair, enslaved to br0: <c>vnet{Index}</c> (what libvirt filters).</param>
/// <param name="Interface">The VM side of the pair, inside <see cref="Namespace"/>: <c>eth0</c>.</param>
/// <param name="Mac">The VM interface's MAC.</param>
/// <param name="IPv4">The VM's IPv4 address (/24).</param>
/// <param name="IPv6">The VM's IPv6 address (/64).</param>
public sealed record LabVm(int Index, string Namespace, string PortDevice, string Interface, string Mac, string IPv4, string IPv6);

/// <summary>
/// A bridged network in namespaces, shaped like a libvirt host: a host namespace with bridge br0 (10.213.0.1/24,
/// fd00:213::1/64, bridge-nf-call-iptables/ip6tables = 1) and N VM namespaces, each joined by a veth pair whose host
/// end <c>vnetN</c> is a bridge port. Everything lives in namespaces named <c>nwft-{id}-{pid}-…</c>; Dispose deletes
/// them (and kills what runs in them), and a failed Create cleans up before it throws.
/// </summary>
public sealed partial class NetnsLab : IDisposable
{
    public const string BridgeName = "br0";
    public const string BridgeIPv4 = "10.213.0.1";
    public const string BridgeIPv6 = "fd00:213::1";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);
    private readonly List<System.Diagnostics.Process> background = [];
    private bool disposed;

    private NetnsLab(string id, int vmCount)
    {
        Id = id;
        HostNamespace = $"{NetnsSweeper.Prefix}{id}-{Environment.ProcessId}-host";
        Vms = Enumerable.Range(0, vmCount).Select(i => new LabVm(
            i,
            $"{NetnsSweeper.Prefix}{id}-{Environment.ProcessId}-vm{i}",
            $"vnet{i}",
            "eth0",
            string.Create(CultureInfo.InvariantCulture, $"52:54:00:d5:00:{i + 16:x2}"),
            string.Create(CultureInfo.InvariantCulture, $"10.213.0.{i + 10}"),
            string.Create(CultureInfo.InvariantCulture, $"fd00:213::{i + 10:x}"))).ToList();
    }

    /// <summary>Six random lowercase characters shared by all this lab's namespace names.</summary>
    public string Id { get; }

    public string HostNamespace { get; }

    public IReadOnlyList<LabVm> Vms { get; }

    /// <summary>All namespaces of this lab, host first.</summary>
    public IEnumerable<string> Namespaces => Vms.Select(v => v.Namespace).Prepend(HostNamespace);

    /// <summary>A runner whose programs run in the host namespace (where the firewall rules go).</summary>
    public IProcessRunner HostRunner => new NamespacedProcessRunner(ProcessRunner.Default, HostNamespace);

    /// <summary>Builds the lab. Skips the calling test when the lab cannot run here (not root, tools missing).</summary>
    public static NetnsLab Create(int vmCount = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vmCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vmCount, 200);
        LabPrerequisites.Require();
        NetnsSweeper.SweepStale();
        var lab = new NetnsLab(RandomId(), vmCount);
        try
        {
            lab.Build();
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Runs a program in a namespace of this lab (or any namespace named by the caller).</summary>
    public ProcessResult Run(string namespaceName, string program, params string[] arguments) =>
        Run(namespaceName, new ProcessRequest(program, arguments) { Timeout = CommandTimeout });

    public ProcessResult Run(string namespaceName, ProcessRequest request)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var wrapped = NetworkNamespace.Wrap(request with { Timeout = request.Timeout ?? CommandTimeout }, namespaceName);
        return ProcessRunner.Default.RunAsync(wrapped).GetAwaiter().GetResult();
    }

    /// <summary>Runs a program in the host namespace.</summary>
    public ProcessResult RunInHost(string program, params string[] arguments) => Run(HostNamespace, program, arguments);

    /// <summary>Runs a program in the host namespace and throws unless it succeeds.</summary>
    public ProcessResult RunInHostChecked(string program, params string[] arguments) => RunInHost(program, arguments).EnsureSuccess();

    /// <summary>Feeds text to a restore program (ebtables-restore, iptables-restore, …) in the host namespace.</summary>
    public ProcessResult Restore(string restoreProgram, string text) =>
        Run(HostNamespace, new ProcessRequest(restoreProgram, "--noflush") { StandardInput = text });

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        foreach (var process in background)
        {
            KillQuietly(process);
            process.Dispose();
        }

        background.Clear();
        NetnsSweeper.Delete(Namespaces.ToList());
    }

    private void Build()
    {
        var runner = ProcessRunner.Default;
        void Ip(string input, params string[] options) =>
            runner.RunAsync(new ProcessRequest("ip", [.. options, "-batch", "-"]) { StandardInput = input, Timeout = CommandTimeout })
                .GetAwaiter().GetResult().EnsureSuccess();

        Ip(string.Concat(Namespaces.Select(n => $"netns add {n}\n")));

        var host = new System.Text.StringBuilder()
            .Append("link set lo up\n")
            .Append($"link add {BridgeName} type bridge stp_state 0 forward_delay 0\n")
            .Append($"addr add {BridgeIPv4}/24 dev {BridgeName}\n")
            .Append($"addr add {BridgeIPv6}/64 dev {BridgeName} nodad\n");
        foreach (var vm in Vms)
        {
            host.Append($"link add {vm.PortDevice} type veth peer name {vm.Interface} netns {vm.Namespace}\n")
                .Append($"link set {vm.PortDevice} master {BridgeName}\n")
                .Append($"link set {vm.PortDevice} up\n");
        }

        host.Append($"link set {BridgeName} up\n");
        Ip(host.ToString(), "-n", HostNamespace);

        foreach (var vm in Vms)
        {
            Ip(
                "link set lo up\n"
                + $"link set {vm.Interface} address {vm.Mac}\n"
                + $"addr add {vm.IPv4}/24 dev {vm.Interface}\n"
                + $"addr add {vm.IPv6}/64 dev {vm.Interface} nodad\n"
                + $"link set {vm.Interface} up\n",
                "-n",
                vm.Namespace);
        }

        Run(HostNamespace, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1")
            .EnsureSuccess();
    }

    private static string RandomId()
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        return string.Create(6, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
            }
        });
    }

    private static void KillQuietly(System.Diagnostics.Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
    }
}
