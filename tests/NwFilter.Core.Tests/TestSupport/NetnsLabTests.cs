using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

[Collection(NetnsCollection.Name)]
public sealed class NetnsLabTests
{
    [SkippableFact]
    public void CreateBuildsTheTopologyAndDisposeRemovesEveryNamespace()
    {
        LabPrerequisites.Require();
        // Only this lab's own namespaces are counted: other processes on the machine may run labs of their own.
        string[] created;
        using (var lab = NetnsLab.Create(3))
        {
            created = [.. lab.Namespaces];
            Assert.Equal(4, created.Distinct().Count());
            Assert.All(created, name => Assert.Contains(name, NetnsSweeper.ListLabNamespaces()));
            var links = lab.RunInHostChecked("ip", "-o", "link", "show", "master", NetnsLab.BridgeName).StandardOutput;
            Assert.All(lab.Vms, vm => Assert.Contains($": {vm.PortDevice}@", links, StringComparison.Ordinal));
            var sysctl = lab.RunInHostChecked("sysctl", "-n", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables");
            Assert.Equal("1\n1\n", sysctl.StandardOutput);
            var vmLink = lab.Run(lab.Vms[2].Namespace, "ip", "-o", "link", "show", "eth0").EnsureSuccess().StandardOutput;
            Assert.Contains(lab.Vms[2].Mac, vmLink, StringComparison.Ordinal);
        }

        var after = NetnsSweeper.ListLabNamespaces();
        Assert.DoesNotContain(after, created.Contains);
    }

    [SkippableFact]
    public void VmsReachEachOtherAndTheHostWithoutFilters()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        Assert.True(lab.Ping(vm0.Namespace, vm1.IPv4));
        Assert.True(lab.Ping(vm1.Namespace, vm0.IPv6));
        Assert.True(lab.Ping(vm0.Namespace, NetnsLab.BridgeIPv4));
        Assert.True(lab.Ping(lab.HostNamespace, vm1.IPv6));
    }

    [SkippableFact]
    public void TcpAndUdpGetThroughWithoutFilters()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        Assert.True(lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4));
        Assert.True(lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv6));
        Assert.True(lab.UdpDelivered(vm0.Namespace, vm1.Namespace, vm1.IPv4));
        Assert.True(lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv6));
    }

    [SkippableFact]
    public void SpoofedFramesArriveWhenNothingFilters()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        Assert.True(lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));
        Assert.True(lab.SpoofedIPv4Arrives(vm0, vm1, "10.213.0.99"));
        Assert.True(lab.Ping(vm0.Namespace, vm1.IPv4), "the VM's own MAC and address are restored afterwards");
    }

    [SkippableFact]
    public void TheSweeperDeletesNamespacesWhoseOwnerIsGone()
    {
        LabPrerequisites.Require();
        const string Stale = NetnsSweeper.Prefix + "zzzzzz-999999999-host";
        ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "netns", "add", Stale)).GetAwaiter().GetResult().EnsureSuccess();
        try
        {
            Assert.Contains(Stale, NetnsSweeper.SweepStale());
            Assert.DoesNotContain(Stale, NetnsSweeper.ListLabNamespaces());
        }
        finally
        {
            NetnsSweeper.Delete([Stale]);
        }
    }

    [Fact]
    public void OwnerPidIsReadFromTheName()
    {
        Assert.Equal(1234, NetnsSweeper.OwnerPid("nwft-abc123-1234-vm0"));
        Assert.Null(NetnsSweeper.OwnerPid("nwft-abc123"));
    }
}
