using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Host;

/// <summary>Hand-written rules in libvirt's layout act on real packets in the lab: the lab can prove a filter works.</summary>
[Collection(NetnsCollection.Name)]
public sealed class LabFirewallTests
{
    private const string IptablesBase =
        "*filter\n-N libvirt-in\n-N libvirt-out\n-N libvirt-in-post\n-N libvirt-host-in\n"
        + "-I FORWARD 1 -j libvirt-in\n-I FORWARD 2 -j libvirt-out\n-I FORWARD 3 -j libvirt-in-post\n-I INPUT 1 -j libvirt-host-in\nCOMMIT\n";

    [SkippableFact]
    public void AnEbtablesDropOnOnePortBlocksThatVmAndRemovingItRestoresTraffic()
    {
        using var lab = NetnsLab.Create(3);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        Assert.True(lab.Ping(vm0.Namespace, vm1.IPv4));

        lab.Restore("ebtables-restore", "*nat\n-N libvirt-I-vnet0\n-A libvirt-I-vnet0 -j DROP\n-A PREROUTING -i vnet0 -j libvirt-I-vnet0\nCOMMIT\n").EnsureSuccess();
        Assert.False(lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(1)));
        Assert.False(lab.Ping(vm0.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(1)));
        Assert.True(lab.Ping(vm2.Namespace, vm1.IPv4), "other ports are not affected");

        lab.Restore("ebtables-restore", "*nat\n-D PREROUTING -i vnet0 -j libvirt-I-vnet0\n-F libvirt-I-vnet0\n-X libvirt-I-vnet0\nCOMMIT\n").EnsureSuccess();
        Assert.True(lab.Ping(vm0.Namespace, vm1.IPv4, count: 1, timeout: TimeSpan.FromSeconds(3)));
    }

    [SkippableFact]
    public void AnEbtablesSourceMacRuleStopsSpoofedFramesOnly()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Restore(
            "ebtables-restore",
            $"*nat\n-N libvirt-I-vnet0\n-A libvirt-I-vnet0 -s ! {vm0.Mac} -j DROP\n-A PREROUTING -i vnet0 -j libvirt-I-vnet0\nCOMMIT\n").EnsureSuccess();

        Assert.False(lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));
        Assert.True(lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)));
    }

    [SkippableFact]
    public void AnIptablesPhysdevRuleBlocksTcpToOneVmThroughTheBridge()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        Assert.True(lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 7001));

        lab.Restore("iptables-restore", IptablesBase).EnsureSuccess();
        lab.Restore(
            "iptables-restore",
            "*filter\n-N FO-vnet1\n-A FO-vnet1 -p tcp --dport 7002 -j DROP\n"
            + "-A libvirt-out -m physdev --physdev-is-bridged --physdev-out vnet1 -g FO-vnet1\nCOMMIT\n").EnsureSuccess();

        Assert.False(lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 7002, TimeSpan.FromSeconds(1)));
        Assert.True(lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 7003), "other ports pass");
        Assert.True(lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 7002), "the other direction passes");
        var counters = lab.RunInHostChecked("iptables", "-L", "FO-vnet1", "-v", "-x", "-n").StandardOutput;
        Assert.DoesNotContain("    0     0 DROP", counters, StringComparison.Ordinal);

        lab.Restore("iptables-restore", "*filter\n-D libvirt-out -m physdev --physdev-is-bridged --physdev-out vnet1 -g FO-vnet1\n-F FO-vnet1\n-X FO-vnet1\nCOMMIT\n").EnsureSuccess();
        Assert.True(lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 7004));
    }
}
