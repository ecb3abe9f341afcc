using System.Diagnostics;
using System.Globalization;
using System.Net;
using NwFilter.Core.Model;
using NwFilter.Core.Apply;
using NwFilter.Core.Host;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// IPv6 address learning (CTRL_IPV6_LEARNING) on the real kernel with real autoconfiguration: dnsmasq sends router
/// advertisements (enable-ra, ra-only) on the lab bridge, the VM's own kernel does SLAAC, the binding
/// (nwfilter-clean-traffic-dual-stack with IP given) learns the address from the VM's duplicate address detection,
/// re-instantiates, the address works, another address of the same VM is dropped while an unfiltered VM's passes, and
/// the learned address is restored in a new process without learning again.
/// </summary>
public abstract class Ipv6LearningKernelTestsBase(FirewallBackendKind backend)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task SlaacAddressIsLearnedFromDadWorksAndAnotherAddressIsDropped()
    {
        LabPrerequisites.Require();
        Requirement.Program("dnsmasq");
        using var lab = BindingLab.Create(3, backend);
        var (vm, other, control) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        lab.Learners = new IpLearnerRegistry(lab.Leases);
        lab.NewManager();
        var linkLocal = IpLearnerOptions.LinkLocalOf(System.Net.NetworkInformation.PhysicalAddress.Parse(vm.Mac.Replace(':', '-'))).ToString();
        var slaac = "fd00:213::" + linkLocal["fe80::".Length..];

        var binding = BindingLab.Binding(vm, "nwfilter-clean-traffic-dual-stack", ("IP", vm.IPv4));
        var result = Assert.Single(lab.Apply(binding).Items);
        Assert.True(result.Succeeded, result.Error?.Message);
        var learner = result.Learner;
        Assert.NotNull(learner);
        Assert.Equal((IpLearningMode.Any, false, true), (learner.Mode, learner.Options.LearnIPv4, learner.Options.LearnIPv6));

        // The VM forgets its static lab address and autoconfigures from dnsmasq's router advertisements.
        using var ra = StartRouterAdvertisements(lab.Lab);
        Toggle(lab.Lab, vm);
        var learned = await LearnerEvents.Next<AddressLearned>(learner, Wait);
        Assert.Equal((slaac, AddressSource.Ndp), (learned.Address.Address.ToString(), learned.Address.Source));
        var applied = await LearnerEvents.Next<ReinstantiationSucceeded>(learner, Wait);
        Assert.Equal([slaac], applied.IPv6.ToArray()); // the learned ones; the rules hold the link-local address too
        Assert.Equal([vm.IPv4], applied.IP.ToArray()); // the binding's own IP, which the rules use
        var rules = backend == FirewallBackendKind.Nftables ? lab.Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput : lab.Save();
        Assert.Contains(linkLocal, rules, StringComparison.Ordinal);
        Assert.Contains(slaac, rules, StringComparison.Ordinal);
        await learner.Completion.WaitAsync(Wait);
        Assert.Equal(IpLearningState.Learned, learner.State);
        WaitForAddress(lab.Lab, vm, slaac);

        // The autoconfigured address works both ways.
        Assert.True(lab.Lab.Ping(vm.Namespace, other.IPv6, timeout: TimeSpan.FromSeconds(3)), "ping from the learned SLAAC address");
        Assert.True(lab.Lab.Ping(other.Namespace, slaac, timeout: TimeSpan.FromSeconds(3)), "ping towards the learned SLAAC address");

        // Another address of the same VM is dropped, by the VM's own stack and as a forged frame; the unfiltered VM's passes.
        lab.Lab.Run(vm.Namespace, "ip", "addr", "add", "fd00:213::77/64", "dev", vm.Interface, "nodad").EnsureSuccess();
        lab.Lab.Run(control.Namespace, "ip", "addr", "add", "fd00:213::78/64", "dev", control.Interface, "nodad").EnsureSuccess();
        Assert.False(PingFrom(lab.Lab, vm, "fd00:213::77", other.IPv6), "a second address the VM did not autoconfigure is dropped");
        Assert.True(PingFrom(lab.Lab, control, "fd00:213::78", other.IPv6), "the same from the unfiltered VM passes (positive control)");
        Assert.False(lab.Lab.FrameArrives(vm, other, Udp6(vm, other, "fd00:213::99"), "ip6 src host fd00:213::99"), "a forged IPv6 source is dropped");
        Assert.True(lab.Lab.FrameArrives(control, other, Udp6(control, other, "fd00:213::99"), "ip6 src host fd00:213::99"), "the forged frame from the unfiltered VM arrives");

        // A new process after a flush: the stored address is applied at once, without a learner.
        await lab.Learners.DisposeAsync();
        lab.Lab.RunInHostChecked("nft", "flush", "ruleset");
        lab.Learners = new IpLearnerRegistry(lab.Leases);
        lab.NewManager();
        var restored = Assert.Single(lab.Manager.RestoreAsync().GetAwaiter().GetResult().Items);
        Assert.True(restored.Succeeded, restored.Error?.Message);
        Assert.Null(restored.Learner);
        Assert.True(PingFrom(lab.Lab, vm, slaac, other.IPv6), "the restored address passes");
        Assert.False(PingFrom(lab.Lab, vm, "fd00:213::77", other.IPv6), "the other address is still dropped after the restore");
        Assert.Equal(IpLearningState.Learned, lab.Manager.GetLearningStatus(lab.Store.Get(vm.PortDevice)!)!.State);

        Assert.True(lab.Remove(vm.PortDevice).Items.Single().Succeeded);
        Assert.False(File.Exists(lab.Leases.PathOf(vm.PortDevice)));
    }

    [SkippableFact]
    public async Task DhcpModeLearnsTheDhcpv6LeaseFromTheTrustedServerAndTheAddressWorks()
    {
        LabPrerequisites.Require();
        Requirement.Program("dnsmasq");
        Requirement.Program("dhcpcd");
        using var lab = BindingLab.Create(2, backend);
        var (vm, other) = (lab.Vms[0], lab.Vms[1]);
        lab.Learners = new IpLearnerRegistry(lab.Leases);
        lab.NewManager();
        var server = BridgeLinkLocal(lab.Lab);

        var binding = BindingLab.Binding(vm, "nwfilter-clean-traffic-dual-stack", ("IP", vm.IPv4), ("CTRL_IPV6_LEARNING", "dhcp"), ("DHCPV6SERVER", server));
        var learner = Assert.Single(lab.Apply(binding).Items).Learner;
        Assert.NotNull(learner);
        Assert.Equal(IpLearningMode.Dhcp, learner.Mode);
        Assert.Equal([IPAddress.Parse(server)], learner.Options.Dhcpv6Servers.ToArray());

        // Managed router advertisements and a DHCPv6 range; the VM asks with dhcpcd (DHCPv6 only, once, no scripts).
        using var dhcp = StartRouterAdvertisements(lab.Lab, "--dhcp-range=fd00:213::100,fd00:213::1ff,64,10m");
        Toggle(lab.Lab, vm);
        // dhcpcd keeps its DUID and leases in /var/lib/dhcpcd: private empty ones (tmpfs in the mount namespace ip netns
        // exec made), so nothing of the host is touched and every run starts with a Solicit, not a Confirm.
        var client = lab.Lab.Run(vm.Namespace, new ProcessRequest("sh", "-c",
            "mkdir -p /var/lib/dhcpcd /run/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd && mount -t tmpfs tmpfs /run/dhcpcd && " +
            "exec dhcpcd --ipv6only --oneshot --nobackground --persistent --config /dev/null --script /bin/true --timeout 30 " + vm.Interface)
        {
            Timeout = TimeSpan.FromSeconds(45),
        });
        AddressLearned learned;
        try
        {
            learned = await LearnerEvents.Next<AddressLearned>(learner, TimeSpan.FromSeconds(5));
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}; dhcpcd: {client.StandardOutput}{client.StandardError}; dnsmasq: {dhcp.Log}; frames seen {learner.FramesSeen}; " +
                lab.Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput);
        }
        Assert.True(learned.Address.Source == AddressSource.Dhcpv6, $"{learned}; dhcpcd: {client.StandardOutput}{client.StandardError}; dnsmasq: {dhcp.Log}");
        var address = learned.Address.Address.ToString();
        Assert.StartsWith("fd00:213::1", address, StringComparison.Ordinal);
        Assert.Equal(IPAddress.Parse(server), learned.Address.Server);
        Assert.NotNull(learned.Address.Expires); // a lease with its valid lifetime
        Assert.Equal([address], (await LearnerEvents.Next<ReinstantiationSucceeded>(learner, Wait)).IPv6.ToArray());

        WaitForAddress(lab.Lab, vm, address);
        Assert.True(PingFrom(lab.Lab, vm, address, other.IPv6), "ping from the DHCPv6 address");
        Assert.Equal(IpLearningState.Learned, learner.State);
        Assert.False(learner.Completion.IsCompleted); // dhcp mode keeps snooping (renewals, expiry)
        Assert.True(lab.Remove(vm.PortDevice).Items.Single().Succeeded);
        Assert.Equal(IpLearningState.Stopped, learner.State);
    }

    /// <summary>The lab bridge's link-local address (dnsmasq answers DHCPv6 from it).</summary>
    private static string BridgeLinkLocal(NetnsLab lab)
    {
        var shown = lab.RunInHostChecked("ip", "-6", "addr", "show", "dev", NetnsLab.BridgeName, "scope", "link").StandardOutput;
        var match = System.Text.RegularExpressions.Regex.Match(shown, @"inet6 (fe80::[0-9a-f:]+)/64");
        Assert.True(match.Success, shown);
        return match.Groups[1].Value;
    }

    /// <summary>dnsmasq in the lab's host namespace sending router advertisements for fd00:213::/64 (SLAAC only unless
    /// <paramref name="ranges"/> say otherwise), every 3 seconds.</summary>
    internal static RouterAdvertiser StartRouterAdvertisements(NetnsLab lab, params string[] ranges) => new(lab, ranges);

    internal sealed class RouterAdvertiser : IDisposable
    {
        private readonly TempDirectory directory = new("nwfilter-ra");
        private readonly LabProcess process;

        public RouterAdvertiser(NetnsLab lab, string[] ranges)
        {
            process = lab.StartBackground(lab.HostNamespace, "dnsmasq",
            [
                "--no-daemon", "--conf-file=/dev/null", "--port=0", "--log-facility=-", "--log-dhcp", "--user=root", "--group=root",
                "--pid-file=" + directory.Combine("dnsmasq.pid"), "--dhcp-leasefile=" + directory.Combine("dnsmasq.leases"),
                "--interface=" + NetnsLab.BridgeName, "--bind-interfaces", "--except-interface=lo",
                "--enable-ra", "--ra-param=" + NetnsLab.BridgeName + ",3", .. ranges.Length > 0 ? ranges : ["--dhcp-range=fd00:213::,ra-only,64,10m"],
            ]);
            try
            {
                process.WaitForError("router advertisement on", TimeSpan.FromSeconds(10));
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>What dnsmasq logged.</summary>
        public string Log => process.Error;

        public void Dispose()
        {
            process.Dispose();
            directory.Dispose();
        }
    }

    /// <summary>Disables and re-enables IPv6 on the VM: its addresses go, its link-local comes back and it solicits a router.</summary>
    internal static void Toggle(NetnsLab lab, LabVm vm)
    {
        lab.Run(vm.Namespace, "sysctl", "-q", "-w", $"net.ipv6.conf.{vm.Interface}.accept_ra=1", $"net.ipv6.conf.{vm.Interface}.autoconf=1",
            $"net.ipv6.conf.{vm.Interface}.disable_ipv6=1").EnsureSuccess();
        lab.Run(vm.Namespace, "sysctl", "-q", "-w", $"net.ipv6.conf.{vm.Interface}.disable_ipv6=0").EnsureSuccess();
    }

    /// <summary>Waits until the VM holds <paramref name="address"/> and its duplicate address detection is over.</summary>
    internal static void WaitForAddress(NetnsLab lab, LabVm vm, string address)
    {
        var clock = Stopwatch.StartNew();
        string shown;
        do
        {
            shown = lab.Run(vm.Namespace, "ip", "-6", "addr", "show", "dev", vm.Interface).StandardOutput;
            var line = shown.Split('\n').FirstOrDefault(l => l.Contains($"inet6 {address}/", StringComparison.Ordinal));
            if (line is not null && !line.Contains("tentative", StringComparison.Ordinal))
            {
                return;
            }
            Thread.Sleep(100);
        }
        while (clock.Elapsed < Wait);
        Assert.Fail($"{vm.Namespace} has no usable {address}: {shown}");
    }

    private static bool PingFrom(NetnsLab lab, LabVm vm, string source, string destination) =>
        lab.Run(vm.Namespace, new ProcessRequest("ping", "-6", "-n", "-q", "-c", "1", "-W", "2", "-I", source, destination) { Timeout = TimeSpan.FromSeconds(10) }).Succeeded;

    /// <summary>A UDP datagram over IPv6 from <paramref name="source"/> to the observer.</summary>
    internal static string Udp6(LabVm sender, LabVm observer, string source)
    {
        static string Hex(string a) => Convert.ToHexString(IPAddress.Parse(a).GetAddressBytes()).ToLowerInvariant();
        var udp = "9c40" + "9c41" + "000c" + "0000" + "deadbeef";
        return Frames.Ethernet(observer.Mac, sender.Mac, 0x86dd,
            "60000000" + (udp.Length / 2).ToString("x4", CultureInfo.InvariantCulture) + "11" + "40" + Hex(source) + Hex(observer.IPv6) + udp);
    }
}

/// <summary>IPv6 learning with the ebtables/iptables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class Ipv6LearningKernelTestsEbIpTables() : Ipv6LearningKernelTestsBase(FirewallBackendKind.EbIpTables);

/// <summary>IPv6 learning with the nftables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class Ipv6LearningKernelTestsNftables() : Ipv6LearningKernelTestsBase(FirewallBackendKind.Nftables);
