using NwFilter.Core.Model;
using NwFilter.Core.Backends;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>The seed's test-eth0 bound through the binding manager, proven with real packets: SSH and HTTP reach the VM,
/// 8080 does not; it pings out and cannot be pinged. The same assertions hold for both firewall backends.</summary>
public abstract class TestEth0PacketTestsBase(FirewallBackendKind backend)
{
    [SkippableFact]
    public void SshAndHttpReachTheVmOtherPortsDoNotItPingsOutAndCannotBePinged()
    {
        using var lab = BindingLab.Create(3, backend);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "before binding, 8080 is open");

        lab.Apply(TestEth0(vm0));

        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 22), "TCP 22 reaches the VM");
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 80), "TCP 80 reaches the VM");
        Assert.False(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080, TimeSpan.FromSeconds(1)), "TCP 8080 does not");
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), "the VM pings out");
        Assert.True(lab.Lab.Ping(vm0.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(3)), "the VM pings the host (HI)");
        Assert.False(lab.Lab.Ping(vm1.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(1)), "the VM cannot be pinged");
        Assert.False(lab.Lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(1)), "UDP in is dropped");
        Assert.False(lab.Lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 8081, TimeSpan.FromSeconds(1)), "the VM opens no TCP connection out");
        Assert.False(lab.Lab.UdpDelivered(vm0.Namespace, lab.Lab.HostNamespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(1)),
            "UDP from the VM to the host is dropped (HI)");
        Assert.True(lab.Lab.Ping(vm1.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(3)), "the other VM is unaffected");
        Assert.True(lab.Lab.Ping(vm1.Namespace, vm2.IPv4, timeout: TimeSpan.FromSeconds(3)), "other VMs are unaffected");
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm2.Namespace, vm2.IPv4, 8080), "other VMs are unaffected (TCP)");

        // Both VMs filtered: the rules leaving one port and those entering the other both see the packet.
        lab.Apply(TestEth0(vm1));
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm2.IPv4, timeout: TimeSpan.FromSeconds(3)));
        Assert.False(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(1)), "vm0 may ping out, but vm1 may not be pinged");
        Assert.False(lab.Lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 22, TimeSpan.FromSeconds(1)), "vm0 opens no TCP connection, even to vm1's port 22");
        Assert.True(lab.Lab.TcpConnect(vm2.Namespace, vm1.Namespace, vm1.IPv4, 22), "vm1 still accepts SSH from an unfiltered VM");

        lab.Remove(vm0.PortDevice, vm1.PortDevice);
        Assert.True(lab.Lab.Ping(vm1.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(3)), "removed: vm0 can be pinged again");
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "removed: 8080 is open again");
    }

    private static Model.FilterBinding TestEth0(LabVm vm) => BindingLab.Binding(vm, "test-eth0", ("IP", vm.IPv4));
}

/// <summary>test-eth0 with the ebtables/iptables backend (libvirt's 'iptables').</summary>
[Collection(NetnsCollection.Name)]
public sealed class TestEth0PacketTestsEbIpTables() : TestEth0PacketTestsBase(FirewallBackendKind.EbIpTables);

/// <summary>test-eth0 with the nftables backend: its layer-4 rules reach the inet table through br_netfilter and the
/// per-port marks.</summary>
[Collection(NetnsCollection.Name)]
public sealed class TestEth0PacketTestsNftables() : TestEth0PacketTestsBase(FirewallBackendKind.Nftables);
