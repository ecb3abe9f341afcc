using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Daemon.Tests.TestSupport;
using P = NwFilter.Daemon.Procedures.NwFilterProcedures;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>nwfilterd re-applies a binding whose rules were flushed behind its back and logs it; --no-drift-repair leaves them.</summary>
public sealed class DaemonDriftRepairTests
{
    private const string Binding =
        "<filterbinding><owner><name>vm-r</name><uuid>6f1e8f9c-93b5-4c43-a8a4-0c7e5a1d2b3d</uuid></owner><portdev name='vnetrp0'/>" +
        "<mac address='52:54:00:00:00:20'/><filterref filter='clean-traffic'><parameter name='IP' value='192.0.2.20'/></filterref></filterbinding>";

    private static string Ebtables(string ns) => TestNamespace.Run("ip", "netns", "exec", ns, "ebtables-save").StandardOutput;

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AFlushedBindingIsReappliedAndLoggedUnlessRepairIsOff(bool repair)
    {
        Requirement.Require("root", StoreLocation.IsRoot, "nwfilterd's firewall and namespaces need root");
        Requirement.Program("ebtables");
        Requirement.Program("nft");
        using var dir = new TempDirectory("nwfilterd-repair");
        using var ns = new TestNamespace();
        TestNamespace.AddPort(ns.Name, "vnetrp0");
        await using var daemon = await DaemonProcess.StartAsync(dir, ns.Name, repair ? ["--backend", "EbIpTables"] : ["--backend", "EbIpTables", "--no-drift-repair"]);
        Assert.Contains(daemon.Lines, l => l.Contains($"drift repair {(repair ? "on" : "off")}", StringComparison.Ordinal));
        using var c = await new SocketClient(daemon.Socket).HandshakeAsync();
        Assert.True((await c.CallAsync(P.NwFilterBindingCreateXml, Args.StringFlags(Binding, 0))).Ok);
        Assert.Contains("libvirt-I-vnetrp0", Ebtables(ns.Name));
        await Task.Delay(500); // the create's own changes: checked, nothing to repair

        TestNamespace.Run("ip", "netns", "exec", ns.Name, "nft", "flush", "ruleset");
        for (var i = 0; i < 100 && !daemon.Lines.Any(l => l.Contains("DriftRepaired", StringComparison.Ordinal)); i++)
        {
            await Task.Delay(100);
        }
        if (repair)
        {
            Assert.True(daemon.Lines.Any(l => l.StartsWith("warning DriftFound: ", StringComparison.Ordinal) && l.Contains("vnetrp0 (missing)", StringComparison.Ordinal)),
                string.Join("\n", daemon.Lines));
            Assert.Contains(daemon.Lines, l => l.StartsWith("information DriftRepaired: Repaired 1 port(s)", StringComparison.Ordinal));
            Assert.Contains("-A libvirt-I-vnetrp0", Ebtables(ns.Name));
        }
        else
        {
            Assert.DoesNotContain(daemon.Lines, l => l.Contains("Drift", StringComparison.Ordinal));
            Assert.DoesNotContain("vnetrp0", Ebtables(ns.Name));
        }
        Assert.True((await c.CallAsync(P.NwFilterBindingDelete, Args.Binding("vnetrp0", "clean-traffic"))).Ok);
    }
}
