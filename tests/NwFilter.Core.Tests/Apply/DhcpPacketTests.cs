using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// DHCP before the VM has an address: busybox udhcpc in vm0 (its address flushed) against dnsmasq on the lab's bridge,
/// which leases vm0's MAC the address of its binding.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class DhcpPacketTests
{
    [SkippableFact]
    public void AllowDhcpLetsAnAddresslessVmGetItsLeaseAndNothingElse()
    {
        Requirement.Program("dnsmasq");
        using var lab = BindingLab.Create(1);
        var vm = lab.Vms[0];
        using var leases = new TempDirectory("nwfilter-dhcp");
        using var dnsmasq = lab.Lab.StartBackground(lab.Lab.HostNamespace, "dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null",
            "--port=0", "--interface=br0", "--bind-interfaces", "--user=root", $"--dhcp-leasefile={leases.Combine("leases")}",
            $"--pid-file={leases.Combine("pid")}", "--dhcp-range=10.213.0.100,10.213.0.150,255.255.255.0,2m", $"--dhcp-host={vm.Mac},{vm.IPv4}");
        dnsmasq.WaitForError("DHCP, IP range", TimeSpan.FromSeconds(10));

        var dhcpOnly = Build.Filter("dhcp-only", Build.Ref("allow-dhcp"), Build.Rule(RuleAction.Drop, RuleDirection.InOut, ProtocolKind.None));
        var dropAll = Build.Filter("drop-all", Build.Rule(RuleAction.Drop, RuleDirection.InOut, ProtocolKind.None));
        lab.Filters = new InMemoryFilterSource([.. NwFilter.Core.BuiltIn.BuiltInFilters.All, dhcpOnly, dropAll]);
        lab.NewManager();
        lab.Lab.Run(vm.Namespace, "ip", "addr", "flush", "dev", vm.Interface).EnsureSuccess();

        lab.Apply(BindingLab.Binding(vm, "drop-all"));
        Assert.Null(Lease(lab, vm));

        lab.Apply(BindingLab.Binding(vm, "dhcp-only"));
        Assert.Equal(vm.IPv4, Lease(lab, vm));
        lab.Lab.Run(vm.Namespace, "ip", "addr", "add", vm.IPv4 + "/24", "dev", vm.Interface).EnsureSuccess();
        Assert.False(lab.Lab.Ping(vm.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(1)), "only DHCP passes");

        lab.Lab.Run(vm.Namespace, "ip", "addr", "flush", "dev", vm.Interface).EnsureSuccess();
        lab.Apply(BindingLab.CleanTraffic(vm));
        Assert.Equal(vm.IPv4, Lease(lab, vm));
        lab.Lab.Run(vm.Namespace, "ip", "addr", "add", vm.IPv4 + "/24", "dev", vm.Interface).EnsureSuccess();
        Assert.True(lab.Lab.Ping(vm.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(3)), "clean-traffic lets the leased address through");
    }

    /// <summary>Runs udhcpc once (3 discovers, 1 s apart); the address leased, or null.</summary>
    private static string? Lease(BindingLab lab, LabVm vm)
    {
        var result = lab.Lab.Run(vm.Namespace, new NwFilter.Core.Host.ProcessRequest("busybox", "udhcpc", "-i", vm.Interface, "-f", "-q", "-n", "-t", "3", "-T", "1", "-s", "/bin/true")
        {
            Timeout = TimeSpan.FromSeconds(20),
        });
        var match = System.Text.RegularExpressions.Regex.Match(result.StandardOutput + result.StandardError, @"lease of (\S+) obtained");
        return result.Succeeded && match.Success ? match.Groups[1].Value : null;
    }
}
