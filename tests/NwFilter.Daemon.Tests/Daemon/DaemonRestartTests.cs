using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Daemon.Tests.TestSupport;
using P = NwFilter.Daemon.Procedures.NwFilterProcedures;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>
/// Bindings created through the socket stay in force when nwfilterd stops (SIGTERM) and are restored, with their
/// learners, when it starts again; on the real kernel of a lab namespace.
/// </summary>
public sealed class DaemonRestartTests
{
    private static string Binding(string port, string mac, string parameters) =>
        $"<filterbinding><owner><name>vm-{port}</name><uuid>6f1e8f9c-93b5-4c43-a8a4-0c7e5a1d2b3c</uuid></owner><portdev name='{port}'/><mac address='{mac}'/><filterref filter='clean-traffic'>{parameters}</filterref></filterbinding>";

    private static string Rules(string ns) =>
        TestNamespace.Run("ip", "netns", "exec", ns, "ebtables-save").StandardOutput.Split('\n').Where(l => !l.StartsWith('#')).Aggregate("", (a, l) => a + l + "\n") +
        TestNamespace.Run("ip", "netns", "exec", ns, "iptables-save").StandardOutput.Split('\n').Where(l => !l.StartsWith('#')).Aggregate("", (a, l) => a + l + "\n");

    [SkippableFact]
    public async Task BindingsSurviveAStopAndAreRestoredWithTheirLearners()
    {
        Requirement.Require("root", StoreLocation.IsRoot, "nwfilterd's firewall and namespaces need root");
        Requirement.Program("ebtables");
        Requirement.Program("iptables-save");
        using var dir = new TempDirectory("nwfilterd-restart");
        using var ns = new TestNamespace();
        TestNamespace.AddPort(ns.Name, "vnetdr0");
        TestNamespace.AddPort(ns.Name, "vnetdr1");
        string rulesBefore;
        await using (var first = await DaemonProcess.StartAsync(dir, ns.Name, "--backend", "EbIpTables"))
        {
            using var c = await new SocketClient(first.Socket).HandshakeAsync();
            Assert.True((await c.CallAsync(P.NwFilterBindingCreateXml, Args.StringFlags(Binding("vnetdr0", "52:54:00:00:00:10", "<parameter name='IP' value='192.0.2.10'/>"), 0))).Ok);
            Assert.True((await c.CallAsync(P.NwFilterBindingCreateXml, Args.StringFlags(Binding("vnetdr1", "52:54:00:00:00:11", ""), 0))).Ok);
            Assert.Contains(first.Lines, l => l == "learner vnetdr1: any");
            rulesBefore = Rules(ns.Name);
            Assert.Contains("libvirt-I-vnetdr0", rulesBefore);
            Assert.Contains("192.0.2.10", rulesBefore);
            // Two scans of the learning service later its own creates were not taken over as another process's (that
            // re-applied vnetdr1 and started a second learner while the create's was starting).
            await Task.Delay(2500);
            Assert.DoesNotContain(first.Lines, l => l.Contains("LearningTakenOver", StringComparison.Ordinal));
            Assert.Equal(rulesBefore, Rules(ns.Name));
            Assert.Equal(0, await first.StopAsync());
        }
        Assert.Equal(rulesBefore, Rules(ns.Name)); // stopping leaves every rule in force
        await using var second = await DaemonProcess.StartAsync(dir, ns.Name, "--backend", "EbIpTables");
        Assert.Contains(second.Lines, l => l == "restored 2 of 2 binding(s)");
        Assert.Contains(second.Lines, l => l == "learner vnetdr1: any");
        Assert.Equal(rulesBefore, Rules(ns.Name));
        using var again = await new SocketClient(second.Socket).HandshakeAsync();
        var list = (await again.CallAsync(P.ConnectListAllNwFilterBindings, Args.ListAll())).Reader();
        Assert.Equal(2u, list.ReadUInt32());
        Assert.Equal(("vnetdr0", "clean-traffic"), (list.ReadString(64), list.ReadString(64)));
        Assert.True((await again.CallAsync(P.NwFilterBindingDelete, Args.Binding("vnetdr0", "clean-traffic"))).Ok);
        Assert.True((await again.CallAsync(P.NwFilterBindingDelete, Args.Binding("vnetdr1", "clean-traffic"))).Ok);
        Assert.DoesNotContain("vnetdr", Rules(ns.Name));
    }

    [SkippableFact]
    public async Task WithoutABackendOptionBindingsGetTheNftablesDefaultAndLearnThere()
    {
        Requirement.Require("root", StoreLocation.IsRoot, "nwfilterd's firewall and namespaces need root");
        Requirement.Program("nft");
        using var dir = new TempDirectory("nwfilterd-auto");
        using var ns = new TestNamespace();
        TestNamespace.AddPort(ns.Name, "vnetda0");
        TestNamespace.AddPort(ns.Name, "vnetda1");
        string Nft() => TestNamespace.Run("ip", "netns", "exec", ns.Name, "nft", "list", "ruleset").StandardOutput;
        await using (var first = await DaemonProcess.StartAsync(dir, ns.Name))
        {
            Assert.Contains(first.Lines, l => l.Contains("default backend auto", StringComparison.Ordinal));
            using var c = await new SocketClient(first.Socket).HandshakeAsync();
            Assert.True((await c.CallAsync(P.NwFilterBindingCreateXml, Args.StringFlags(Binding("vnetda0", "52:54:00:00:00:20", "<parameter name='IP' value='192.0.2.20'/>"), 0))).Ok);
            Assert.True((await c.CallAsync(P.NwFilterBindingCreateXml, Args.StringFlags(Binding("vnetda1", "52:54:00:00:00:21", ""), 0))).Ok);
            Assert.Contains(first.Lines, l => l == "learner vnetda1: any");
            var nft = Nft();
            Assert.Contains("ip saddr 192.0.2.20", nft, StringComparison.Ordinal);
            Assert.Contains("ether saddr != 52:54:00:00:00:21 drop", nft, StringComparison.Ordinal); // the learning rules, on nftables
            Assert.DoesNotContain("vnetda", Rules(ns.Name), StringComparison.Ordinal); // nothing in ebtables/iptables
            Assert.Equal(0, await first.StopAsync());
        }
        // Restarted: each binding keeps the backend it was created with, the learner starts again.
        await using var second = await DaemonProcess.StartAsync(dir, ns.Name);
        Assert.Contains(second.Lines, l => l == "restored 2 of 2 binding(s)");
        Assert.Contains(second.Lines, l => l == "learner vnetda1: any");
        Assert.Contains("ether saddr != 52:54:00:00:00:21 drop", Nft(), StringComparison.Ordinal);
        using var again = await new SocketClient(second.Socket).HandshakeAsync();
        Assert.True((await again.CallAsync(P.NwFilterBindingDelete, Args.Binding("vnetda0", "clean-traffic"))).Ok);
        Assert.True((await again.CallAsync(P.NwFilterBindingDelete, Args.Binding("vnetda1", "clean-traffic"))).Ok);
        Assert.DoesNotContain("vnetda", Nft(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task AtStartItReportsWhatItRepaired()
    {
        Requirement.Require("root", StoreLocation.IsRoot, "nwfilterd's firewall and namespaces need root");
        Requirement.Program("ebtables");
        Requirement.Program("iptables-save");
        using var dir = new TempDirectory("nwfilterd-repair");
        using var ns = new TestNamespace();
        TestNamespace.AddPort(ns.Name, "vnetdq0");
        string rulesBefore;
        await using (var first = await DaemonProcess.StartAsync(dir, ns.Name, "--backend", "EbIpTables"))
        {
            using var c = await new SocketClient(first.Socket).HandshakeAsync();
            Assert.True((await c.CallAsync(P.NwFilterBindingCreateXml, Args.StringFlags(Binding("vnetdq0", "52:54:00:00:00:20", "<parameter name='IP' value='192.0.2.20'/>"), 0))).Ok);
            rulesBefore = Rules(ns.Name);
            Assert.Equal(0, await first.StopAsync());
        }
        // While it is down the firewall is flushed (a reboot, a firewall reload): the port has no rules at all.
        TestNamespace.Run("ip", "netns", "exec", ns.Name, "ebtables", "-t", "nat", "--init-table").EnsureSuccess();
        foreach (var tool in new[] { "iptables", "ip6tables" })
        {
            TestNamespace.Run("ip", "netns", "exec", ns.Name, tool, "-F").EnsureSuccess();
            TestNamespace.Run("ip", "netns", "exec", ns.Name, tool, "-X").EnsureSuccess();
        }
        Assert.DoesNotContain("vnetdq0", Rules(ns.Name));
        await using var second = await DaemonProcess.StartAsync(dir, ns.Name, "--backend", "EbIpTables");
        Assert.Contains(second.Lines, l => l.StartsWith("information BindingRepaired: vnetdq0: found no rules in the kernel", StringComparison.Ordinal)
            && l.Contains("re-applied filter 'clean-traffic'", StringComparison.Ordinal));
        Assert.Contains(second.Lines, l => l.StartsWith("repaired 1 port(s) at start", StringComparison.Ordinal));
        Assert.Equal(rulesBefore, Rules(ns.Name));
    }

    [SkippableFact]
    public async Task ConcurrentCreatesAreAppliedTogetherAndEachCallerGetsItsOwnAnswer()
    {
        Requirement.Require("root", StoreLocation.IsRoot, "nwfilterd's firewall and namespaces need root");
        Requirement.Program("ebtables");
        using var dir = new TempDirectory("nwfilterd-batch");
        using var ns = new TestNamespace();
        await using var daemon = await DaemonProcess.StartAsync(dir, ns.Name, "--backend", "EbIpTables");
        var clients = new List<SocketClient>();
        for (var i = 0; i < 21; i++)
        {
            clients.Add(await new SocketClient(daemon.Socket).HandshakeAsync());
        }
        try
        {
            // 20 ports, and a 21st create for a port one of the others creates: exactly one of those two is refused.
            var replies = await Task.WhenAll(clients.Select((c, i) => c.CallAsync(P.NwFilterBindingCreateXml,
                Args.StringFlags(Binding($"vnetdb{i % 20}", $"52:54:00:00:01:{i:x2}", $"<parameter name='IP' value='192.0.2.{i + 1}'/>"), 0))));
            Assert.Equal(20, replies.Count(r => r.Ok));
            var refused = Assert.Single(replies, r => !r.Ok);
            Assert.Equal((9, 33, "operation failed: binding 'vnetdb0' already exists"), refused.Error);
            var list = (await clients[0].CallAsync(P.ConnectListAllNwFilterBindings, Args.ListAll())).Reader();
            Assert.Equal(20u, list.ReadUInt32());
            var rules = Rules(ns.Name);
            Assert.All(Enumerable.Range(0, 20), i => Assert.Contains($"-i vnetdb{i} -j libvirt-I-vnetdb{i}", rules));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }
}
