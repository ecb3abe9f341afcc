using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Daemon.Server;

namespace NwFilter.Daemon.Tests.TestSupport;

/// <summary>
/// The reference: libvirt 9.0's own nwfilter driver as <c>../shared/tools/libvirt-ref up</c> runs it (its socket, its
/// namespace), and virsh. Tests that need it skip (resource <c>libvirt</c>) when it does not run.
/// </summary>
internal static class LibvirtRef
{
    public static string Directory => Environment.GetEnvironmentVariable("LVREF_DIR") ?? "/tmp/nwfilter-libvirt-ref";

    public static string Namespace => Environment.GetEnvironmentVariable("LVREF_NS") ?? "lvref-host";

    public static string Socket => Path.Combine(Directory, "run", "libvirt-sock");

    public static string Uri => $"nwfilter:///system?socket={Socket}";

    /// <summary>Skips (or fails, when asserted) unless root, virsh and a running libvirt-ref are all there.</summary>
    public static void Require()
    {
        Requirement.Require("root", Core.Store.StoreLocation.IsRoot, "nwfilterd's firewall and namespaces need root");
        Requirement.Require("libvirt", FirewallTools.Locate("virsh") is not null, "virsh is not installed (../shared/tools/libvirt-ref up installs it)");
        Requirement.Require("libvirt", File.Exists(Socket) && UnixSocketServer.IsServed(Socket), $"libvirt-ref does not run ({Socket}; start it with ../shared/tools/libvirt-ref up)");
    }

    /// <summary>Requires virsh only (the daemon tests that need no reference).</summary>
    public static void RequireVirsh() =>
        Requirement.Require("libvirt", FirewallTools.Locate("virsh") is not null, "virsh is not installed (../shared/tools/libvirt-ref up installs it)");

    /// <summary>virsh -c URI ARGS (with <paramref name="editor"/> as EDITOR when given).</summary>
    public static ProcessResult Virsh(string uri, string[] args, string? editor = null)
    {
        string[] command = editor is null ? ["virsh", "-c", uri, .. args] : ["env", $"EDITOR={editor}", "virsh", "-c", uri, .. args];
        return ProcessRunner.Default.RunAsync(new ProcessRequest(command[0], command[1..]) { Timeout = TimeSpan.FromSeconds(120) }).GetAwaiter().GetResult();
    }
}

/// <summary>
/// The test classes that change libvirt-ref's state (one libvirtd per machine): never run in parallel with each other,
/// since one's filters and bindings would show in the other's virsh output.
/// </summary>
[CollectionDefinition(Name)]
public sealed class LibvirtRefCollection
{
    public const string Name = "libvirt-ref";
}
