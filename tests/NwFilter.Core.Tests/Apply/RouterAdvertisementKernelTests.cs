using System.Diagnostics;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// The RA guard with a real router advertisement daemon (issue 15): dnsmasq (enable-ra) runs inside three VMs at once.
/// vm0 is bound with nwfilter-clean-traffic-dual-stack and IPV6_ROUTER='true', vm1 with the same filter and no router
/// parameter, vm2 is unfiltered (the positive control), vm3 observes. The router's and the control's advertisements
/// reach vm3; vm1's, which its dnsmasq logs as sent, do not.
/// </summary>
public abstract class RouterAdvertisementKernelTestsBase(FirewallBackendKind backend)
{
    [SkippableFact]
    public void ARouterVmsAdvertisementsReachTheBridgeAndANonRoutersAreDropped()
    {
        LabPrerequisites.Require();
        Requirement.Program("dnsmasq");
        using var lab = BindingLab.Create(4, backend);
        var (router, plain, control, observer) = (lab.Vms[0], lab.Vms[1], lab.Vms[2], lab.Vms[3]);
        (string, string)[] Addresses(LabVm vm) =>
        [
            ("IP", vm.IPv4), ("IPV6", vm.IPv6),
            // The advertisements come from the link-local address.
            ("IPV6", IpLearnerOptions.LinkLocalOf(System.Net.NetworkInformation.PhysicalAddress.Parse(vm.Mac.Replace(':', '-'))).ToString()),
        ];
        var applied = lab.Apply(
            BindingLab.Binding(router, "nwfilter-clean-traffic-dual-stack", [.. Addresses(router), ("IPV6_ROUTER", "true")]),
            BindingLab.Binding(plain, "nwfilter-clean-traffic-dual-stack", Addresses(plain)));
        Assert.All(applied.Items, i => Assert.True(i.Succeeded, i.Error?.Message));

        string Filter(LabVm vm) => $"ether src {vm.Mac} and icmp6 and ip6[40] == 134";
        using var fromRouter = lab.Lab.StartCapture(observer, Filter(router));
        using var fromPlain = lab.Lab.StartCapture(observer, Filter(plain));
        using var fromControl = lab.Lab.StartCapture(observer, Filter(control));
        using var daemons = new Daemons(lab.Lab, [router, plain, control]);

        Assert.True(fromControl.WaitForExit(TimeSpan.FromSeconds(15)) && fromControl.Output.Length > 0,
            $"the unfiltered VM's advertisement did not arrive (no positive control); dnsmasq: {daemons.Log(2)}");
        Assert.True(fromRouter.WaitForExit(TimeSpan.FromSeconds(5)) && fromRouter.Output.Length > 0,
            $"the router VM's advertisement (IPV6_ROUTER='true') did not arrive; dnsmasq: {daemons.Log(0)}");
        // Give the non-router as long again as the others needed, and make sure its dnsmasq did advertise.
        Assert.False(fromPlain.WaitForExit(TimeSpan.FromSeconds(3)) && fromPlain.Output.Length > 0,
            $"the non-router VM's advertisement arrived: {fromPlain.Output}");
        Assert.Contains("RTR-ADVERT", daemons.Log(1), StringComparison.Ordinal);
    }

    /// <summary>dnsmasq advertising fd00:213::/64 (ra-only, logged) on the interface of each VM, killed on dispose.</summary>
    private sealed class Daemons : IDisposable
    {
        private readonly List<(LabProcess Process, TempDirectory Directory)> running = [];

        public Daemons(NetnsLab lab, LabVm[] vms)
        {
            try
            {
                foreach (var vm in vms)
                {
                    var directory = new TempDirectory("nwfilter-ra-vm");
                    var process = lab.StartBackground(vm.Namespace, "dnsmasq",
                        "--no-daemon", "--conf-file=/dev/null", "--port=0", "--log-facility=-", "--log-dhcp", "--user=root", "--group=root",
                        "--pid-file=" + directory.Combine("dnsmasq.pid"), "--dhcp-leasefile=" + directory.Combine("dnsmasq.leases"),
                        "--interface=" + vm.Interface, "--bind-interfaces", "--except-interface=lo",
                        "--enable-ra", "--ra-param=" + vm.Interface + ",3", "--dhcp-range=fd00:213::,ra-only,64,10m");
                    running.Add((process, directory));
                    process.WaitForError("router advertisement on", TimeSpan.FromSeconds(10));
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public string Log(int index) => running[index].Process.Error;

        public void Dispose()
        {
            foreach (var (process, directory) in running)
            {
                process.Dispose();
                directory.Dispose();
            }
        }
    }
}

/// <summary>The RA guard with real advertisements, ebtables/iptables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class RouterAdvertisementKernelTestsEbIpTables() : RouterAdvertisementKernelTestsBase(FirewallBackendKind.EbIpTables);

/// <summary>The RA guard with real advertisements, nftables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class RouterAdvertisementKernelTestsNftables() : RouterAdvertisementKernelTestsBase(FirewallBackendKind.Nftables);
