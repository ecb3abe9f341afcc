using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>The seed's test-eth0 on vm0, proven with real packets: SSH and HTTP reach the VM, 8080 does not; it pings out
/// and cannot be pinged.</summary>
[Collection(NetnsCollection.Name)]
public sealed class TestEth0PacketTests
{
    [SkippableFact]
    public void SshAndHttpReachTheVmOtherPortsDoNotItPingsOutAndCannotBePinged()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "before binding, 8080 is open");

        lab.Apply(BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4)));

        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 22), "TCP 22 reaches the VM");
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 80), "TCP 80 reaches the VM");
        Assert.False(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080, TimeSpan.FromSeconds(1)), "TCP 8080 does not");
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), "the VM pings out");
        Assert.False(lab.Lab.Ping(vm1.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(1)), "the VM cannot be pinged");
        Assert.False(lab.Lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(1)), "UDP in is dropped");
        Assert.True(lab.Lab.Ping(vm1.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(3)), "the other VM is unaffected");
    }
}
