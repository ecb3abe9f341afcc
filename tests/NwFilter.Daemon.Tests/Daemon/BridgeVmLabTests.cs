using System.Diagnostics;
using NwFilter.Daemon.Tests.TestSupport;
using Xunit.Abstractions;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>
/// Real guests started by real libvirtd 9.0 (vm-lab) whose nwfilter driver is our forwarding module: what libvirt's
/// qemu driver does at start, hotplug, save/restore, destroy and its own restart reaches nwfilterd, and the guests'
/// packets are filtered on the kernel. Backend-agnostic: nwfilterd runs with its default backend and the checks are
/// bindings (as libvirt lists them) and packets. Every "dropped" has its positive control: the same kind of spoofed
/// ping from the unfiltered guest is answered. The lab and its two guests are shared by the tests (TCG guests are
/// slow to boot); each test leaves both running, filtered and unfiltered, and nwfilterd up.
/// </summary>
[Collection(VmLabCollection.Name)]
public sealed class BridgeVmLabTests(VmLab lab, ITestOutputHelper output) : IClassFixture<VmLab>
{
    private const string SpoofFiltered = "10.97.0.250";
    private const string SpoofOpen = "10.97.0.251";

    [SkippableFact]
    public async Task A_guest_started_with_clean_traffic_is_filtered_its_own_traffic_passes_and_its_dhcp_address_is_learned()
    {
        lab.Require();
        foreach (var line in lab.Journal)
        {
            output.WriteLine(line);
        }
        var port = Assert.Single(await lab.PortsOf(VmLab.Filtered));
        Assert.Contains(port, await lab.Bindings());
        var xml = (await lab.Virsh("nwfilter-binding-dumpxml", port)).EnsureSuccess().StandardOutput;
        Assert.Contains($"<name>{VmLab.Filtered}</name>", xml);
        Assert.Contains("<filterref filter='clean-traffic'>", xml);
        var open = Assert.Single(await lab.PortsOf(VmLab.Unfiltered));
        Assert.DoesNotContain(open, await lab.Bindings());

        Assert.Equal(lab.FilteredAddress, await lab.LearnedAddress(port));
        Assert.True(await lab.OwnPingAnswered(VmLab.Filtered), "the filtered guest's own traffic passes");
        Assert.True(await lab.PingAnsweredFrom(VmLab.Unfiltered, SpoofOpen), "positive control: a spoofed source from the unfiltered guest is answered");
        Assert.False(await lab.PingAnsweredFrom(VmLab.Filtered, SpoofFiltered), "a spoofed source from the filtered guest is dropped");
    }

    [SkippableFact]
    public async Task A_hotplugged_nic_with_a_filterref_is_bound_when_attach_returns_and_unbound_when_detached()
    {
        lab.Require();
        const string mac = "52:54:00:b1:00:01";
        var nic = Path.Combine(lab.VmLabDirectory, "nwb-hotplug.xml");
        await File.WriteAllTextAsync(nic,
            $"<interface type='bridge'><source bridge='nwlab0'/><mac address='{mac}'/><model type='virtio'/><filterref filter='clean-traffic'><parameter name='IP' value='10.97.0.252'/></filterref></interface>");
        var before = await lab.PortsOf(VmLab.Filtered);

        var clock = Stopwatch.StartNew();
        (await lab.Virsh("attach-device", VmLab.Filtered, nic, "--live")).EnsureSuccess();
        output.WriteLine($"attach-device with a filterref: {clock.ElapsedMilliseconds} ms");
        var added = Assert.Single((await lab.PortsOf(VmLab.Filtered)).Except(before));
        // libvirt's qemu driver creates the binding before device_add: it is there when attach-device returns
        Assert.Contains(added, await lab.Bindings());
        var xml = (await lab.Virsh("nwfilter-binding-dumpxml", added)).EnsureSuccess().StandardOutput;
        Assert.Contains($"<mac address='{mac}'/>", xml);
        Assert.Contains($"<name>{VmLab.Filtered}</name>", xml);
        Assert.Contains("<parameter name='IP' value='10.97.0.252'/>", xml);

        // on the wire: the new NIC's own traffic passes, a forged source MAC on it is dropped, the unfiltered guest's forged
        // MAC passes (the gateway's neighbour entry is flushed before each ping, so its answer needs a fresh ARP
        // exchange with the MAC the guest uses: without that the reply would miss a forged MAC even unfiltered)
        const string forged = "52:54:00:b1:ff:ff";
        // the NIC's filterref gives its address (IP=10.97.0.252): no learning, its rules are complete at attach
        // the guest's kernel sees the new PCI device asynchronously (ACPI hotplug; slow on a loaded TCG guest)
        Assert.Equal(0, (await lab.Exec(VmLab.Filtered, "for i in $(seq 150); do [ -e /sys/class/net/eth1 ] && exit 0; sleep 0.2; done; exit 1")).ExitCode);
        await lab.Exec(VmLab.Filtered, "ip link set eth1 up; ip addr add 10.97.0.252/24 dev eth1");
        await FlushNeighbour("10.97.0.252");
        Assert.True(await Answered(VmLab.Filtered, "ping -c 4 -W 3 -I eth1 " + VmLab.Gateway), "the hotplugged NIC's own traffic passes");
        await lab.Exec(VmLab.Filtered, $"ip link set eth1 address {forged}");
        await FlushNeighbour("10.97.0.252");
        Assert.False(await Answered(VmLab.Filtered, "ping -c 2 -W 2 -I eth1 " + VmLab.Gateway), "a forged source MAC on the hotplugged NIC is dropped");
        var ownMac = (await lab.Exec(VmLab.Unfiltered, "cat /sys/class/net/eth0/address")).EnsureSuccess().StandardOutput.Trim();
        await FlushNeighbour(SpoofOpen);
        Assert.True(await Answered(VmLab.Unfiltered,
            $"ip link set eth0 address 52:54:00:0f:ff:ff; ip addr add {SpoofOpen}/24 dev eth0; ping -c 2 -W 2 -I {SpoofOpen} {VmLab.Gateway}; rc=$?; ip addr del {SpoofOpen}/24 dev eth0; ip link set eth0 address {ownMac}; exit $rc"),
            "positive control: the unfiltered guest's forged MAC passes");
        await FlushNeighbour(SpoofOpen);

        (await lab.Virsh("detach-device", VmLab.Filtered, nic, "--live")).EnsureSuccess();
        for (var i = 0; i < 40 && (await lab.PortsOf(VmLab.Filtered)).Contains(added); i++)
        {
            await Task.Delay(250); // the guest acknowledges the unplug asynchronously
        }
        Assert.DoesNotContain(added, await lab.PortsOf(VmLab.Filtered));
        Assert.DoesNotContain(added, await lab.Bindings());
        Assert.Equal(before, await lab.PortsOf(VmLab.Filtered));
        Assert.Contains(before[0], await lab.Bindings());
    }

    [SkippableFact]
    public async Task Virsh_through_libvirtd_gets_what_nwfilterd_answers_errors_included_and_a_guest_naming_a_missing_filter_is_refused()
    {
        lab.Require();
        var direct = $"nwfilter:///system?socket={lab.Socket}";
        async Task Same(params string[] args)
        {
            var via = await lab.Virsh(args); // qemu:///system: libvirtd's shared nwfilter driver, our module, the bridge
            var straight = await VmLab.Run("virsh", ["-c", direct, .. args], 60);
            Assert.Equal((straight.ExitCode, straight.StandardOutput, straight.StandardError), (via.ExitCode, via.StandardOutput, via.StandardError));
        }
        await Same("nwfilter-list");
        await Same("nwfilter-dumpxml", "clean-traffic");
        await Same("nwfilter-dumpxml", "no-such-filter");   // libvirt's error, kept through the module's clean-up
        await Same("nwfilter-binding-list");
        await Same("nwfilter-binding-dumpxml", "vnet999");

        var xml = Path.Combine(lab.VmLabDirectory, "nwb-defined.xml");
        await File.WriteAllTextAsync(xml, "<filter name='nwb-defined' chain='ipv4'><rule action='drop' direction='out'><ip srcipaddr='10.97.0.77'/></rule></filter>");
        (await lab.Virsh("nwfilter-define", xml)).EnsureSuccess();
        Assert.Contains("10.97.0.77", (await VmLab.Run("virsh", ["-c", direct, "nwfilter-dumpxml", "nwb-defined"], 60)).EnsureSuccess().StandardOutput);
        (await lab.Virsh("nwfilter-undefine", "nwb-defined")).EnsureSuccess();
        Assert.NotEqual(0, (await VmLab.Run("virsh", ["-c", direct, "nwfilter-dumpxml", "nwb-defined"], 60)).ExitCode);

        const string guest = "nwb-missing";
        (await lab.Lab("define", guest, "--filter", "nwb-not-defined")).EnsureSuccess();
        try
        {
            var start = await lab.Virsh("start", guest);
            Assert.NotEqual(0, start.ExitCode);
            Assert.Contains("referenced filter 'nwb-not-defined' is missing", start.StandardError); // libvirt's own words
            Assert.Contains("shut off", (await lab.Virsh("domstate", guest)).StandardOutput);
        }
        finally
        {
            await lab.Virsh("undefine", guest);
        }
    }

    private async Task FlushNeighbour(string address) => await lab.Lab("ns", "ip", "neigh", "flush", "to", address);

    private async Task<bool> Answered(string guest, string command) => (await lab.Exec(guest, command + " >/dev/null 2>&1")).ExitCode == 0;

    [SkippableFact]
    public async Task Save_and_restore_keep_the_guest_filtered_on_the_port_libvirt_names_at_restore()
    {
        lab.Require();
        var image = Path.Combine(lab.VmLabDirectory, "nwb-filtered.save");
        var old = Assert.Single(await lab.PortsOf(VmLab.Filtered));

        (await lab.Virsh("save", VmLab.Filtered, image)).EnsureSuccess();
        Assert.DoesNotContain(old, await lab.Bindings());
        var clock = Stopwatch.StartNew();
        (await lab.Virsh("restore", image)).EnsureSuccess();
        output.WriteLine($"restore: {clock.ElapsedMilliseconds} ms");
        File.Delete(image);
        await lab.MarkRestoredAsync(VmLab.Filtered);

        var port = Assert.Single(await lab.PortsOf(VmLab.Filtered));
        output.WriteLine($"port before save {old}, after restore {port}");
        Assert.Contains(port, await lab.Bindings());
        // the restored guest keeps its address and pings every second: nwfilterd learns it again on the new port
        Assert.Equal(lab.FilteredAddress, await lab.LearnedAddress(port));
        Assert.True(await lab.OwnPingAnswered(VmLab.Filtered), "the restored guest's own traffic passes");
        Assert.True(await lab.PingAnsweredFrom(VmLab.Unfiltered, SpoofOpen), "positive control");
        Assert.False(await lab.PingAnsweredFrom(VmLab.Filtered, SpoofFiltered), "a spoofed source from the restored guest is dropped");
    }

    [SkippableFact]
    public async Task A_libvirtd_restart_with_running_guests_keeps_every_binding_and_recreates_none()
    {
        lab.Require();
        var before = await lab.Bindings();
        var port = Assert.Single(await lab.PortsOf(VmLab.Filtered));
        var lines = lab.Daemon!.Lines.Count;

        (await VmLab.Run("env", [$"VMLAB_NWFILTER={lab.Module}", lab.Tool, "restart"], 300)).EnsureSuccess();

        // libvirtd reconnects to its guests and looks each filtered NIC up; the binding is there, so nothing changes
        Assert.Equal(before, await lab.Bindings());
        var since = lab.Daemon.Lines.Skip(lines).ToList();
        Assert.Contains(since, l => l.Contains("opened nwfilter:///system", StringComparison.Ordinal));
        Assert.DoesNotContain(since, l => l.Contains($"binding {port} ", StringComparison.Ordinal));
        Assert.True(await lab.OwnPingAnswered(VmLab.Filtered), "own traffic passes after the restart");
        Assert.True(await lab.PingAnsweredFrom(VmLab.Unfiltered, SpoofOpen), "positive control");
        Assert.False(await lab.PingAnsweredFrom(VmLab.Filtered, SpoofFiltered), "a spoofed source is still dropped after the restart");
    }

    [SkippableFact]
    public async Task With_nwfilterd_down_a_filtered_start_fails_and_the_rules_stay_and_after_its_restart_starts_and_destroys_work()
    {
        lab.Require();
        const string guest = "nwb-third";
        (await lab.Lab("define", guest, "--filter", "clean-traffic")).EnsureSuccess();
        try
        {
            var before = await lab.Bindings();
            Assert.Equal(0, await lab.StopDaemonAsync());

            var start = await lab.Virsh("start", guest);
            output.WriteLine($"start with nwfilterd down: exit {start.ExitCode}: {start.StandardError.Trim()}");
            Assert.NotEqual(0, start.ExitCode);
            Assert.Contains("nwfilterd", start.StandardError); // the reason: nwfilterd (at its socket) cannot be reached
            Assert.Contains("shut off", (await lab.Virsh("domstate", guest)).StandardOutput);
            // the running guest stays filtered while nwfilterd is down (its rules are in the kernel, not in nwfilterd)
            Assert.True(await lab.OwnPingAnswered(VmLab.Filtered), "own traffic passes with nwfilterd down");
            Assert.True(await lab.PingAnsweredFrom(VmLab.Unfiltered, SpoofOpen), "positive control");
            Assert.False(await lab.PingAnsweredFrom(VmLab.Filtered, SpoofFiltered), "a spoofed source is dropped with nwfilterd down");

            await lab.StartDaemonAsync();
            Assert.Equal(before, await lab.Bindings()); // restored, and the module reconnected by itself

            var clock = Stopwatch.StartNew();
            (await lab.Virsh("start", guest)).EnsureSuccess();
            output.WriteLine($"start of a guest with one filtered NIC (binding created through the bridge): {clock.ElapsedMilliseconds} ms");
            var port = Assert.Single(await lab.PortsOf(guest));
            Assert.Contains(port, await lab.Bindings());

            (await lab.Lab("stop", guest)).EnsureSuccess();
            Assert.DoesNotContain(port, await lab.Bindings());
            Assert.Equal(before, await lab.Bindings());
            Assert.Contains($"binding {port} deleted", lab.Daemon!.Lines); // the destroy's lookup + delete reached nwfilterd
        }
        finally
        {
            if (lab.Daemon is null)
            {
                await lab.StartDaemonAsync();
            }
            await lab.Lab("stop", guest);
            await lab.Virsh("undefine", guest);
        }
    }
}
