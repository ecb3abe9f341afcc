using NwFilter.Core.Model;
using NwFilter.Core.Backends;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// clean-traffic bound with MAC and IP through the binding manager, proven with real packets: vm0 is filtered, vm1
/// observes, vm2 is an unfiltered sender that shows each forged frame does arrive when no filter is in the way. The same
/// assertions hold for both firewall backends; one lab per concrete class.
/// </summary>
public abstract class CleanTrafficPacketTestsBase : IDisposable
{
    private const string ForgedMac = "52:54:00:66:66:66";
    private const string ForgedIp = "10.213.0.99";
    private readonly BindingLab? _lab;

    protected CleanTrafficPacketTestsBase(FirewallBackendKind backend)
    {
        if (LabPrerequisites.Reason is null)
        {
            _lab = BindingLab.Create(3, backend);
            try
            {
                _lab.Apply(BindingLab.CleanTraffic(_lab.Vms[0]));
            }
            catch
            {
                _lab.Dispose();
                throw;
            }
        }
    }

    private BindingLab Lab
    {
        get
        {
            LabPrerequisites.Require();
            return _lab!;
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _lab?.Dispose();
        }
    }

    [SkippableFact]
    public void TheVmsOwnTrafficPasses()
    {
        var (vm0, vm1) = (Lab.Vms[0], Lab.Vms[1]);
        Assert.True(Lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)));
        Assert.True(Lab.Lab.Ping(vm1.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(3)));
        Assert.True(Lab.Lab.Ping(vm0.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(3)), "the VM pings the host");
        Assert.True(Lab.Lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4));
        Assert.True(Lab.Lab.UdpDelivered(vm0.Namespace, vm1.Namespace, vm1.IPv4));
    }

    [SkippableFact]
    public void ASpoofedSourceMacIsDropped()
    {
        Assert.False(Lab.Lab.SpoofedMacArrives(Lab.Vms[0], Lab.Vms[1], ForgedMac));
        Assert.True(Lab.Lab.SpoofedMacArrives(Lab.Vms[2], Lab.Vms[1], "52:54:00:66:66:67"), "the same forgery from the unfiltered VM arrives");
    }

    [SkippableFact]
    public void ASpoofedSourceIpIsDropped()
    {
        Assert.False(Lab.Lab.SpoofedIPv4Arrives(Lab.Vms[0], Lab.Vms[1], ForgedIp));
        Assert.True(Lab.Lab.SpoofedIPv4Arrives(Lab.Vms[2], Lab.Vms[1], "10.213.0.98"), "the same forgery from the unfiltered VM arrives");
    }

    [SkippableTheory]
    [InlineData("sender MAC", true, false)]
    [InlineData("sender IP", false, true)]
    [InlineData("nothing (the VM's own ARP)", false, false)]
    public void ArpWithASpoofedSenderIsDropped(string forged, bool forgeMac, bool forgeIp)
    {
        var (vm0, vm1, vm2) = (Lab.Vms[0], Lab.Vms[1], Lab.Vms[2]);
        var senderIp = forgeIp ? ForgedIp : vm0.IPv4;
        var frame = Frames.ArpRequest(vm0.Mac, forgeMac ? ForgedMac : vm0.Mac, senderIp, vm1.IPv4);
        var arrives = Lab.Lab.FrameArrives(vm0, vm1, frame, $"arp and ether[28:4] == 0x{Frames.Ip(senderIp)}");
        Assert.True(arrives == (!forgeMac && !forgeIp), $"ARP forging {forged} from the filtered VM: arrived={arrives}");
        var controlIp = forgeIp ? ForgedIp : vm2.IPv4;
        var control = Frames.ArpRequest(vm2.Mac, forgeMac ? ForgedMac : vm2.Mac, controlIp, vm1.IPv4);
        Assert.True(Lab.Lab.FrameArrives(vm2, vm1, control, $"arp and ether[28:4] == 0x{Frames.Ip(controlIp)}"), "the unfiltered VM's frame arrives");
    }

    [SkippableTheory]
    [InlineData((ushort)0x8035, "RARP")]
    [InlineData((ushort)0x88b5, "a local experimental ethertype")]
    public void OtherEthertypesAreDropped(ushort etherType, string what)
    {
        var (vm0, vm1, vm2) = (Lab.Vms[0], Lab.Vms[1], Lab.Vms[2]);
        var filter = $"ether proto 0x{etherType:x4}";
        Assert.False(Lab.Lab.FrameArrives(vm0, vm1, Frames.Ethernet(Frames.Broadcast, vm0.Mac, etherType, "00010800060400010000"), filter), what);
        Assert.True(Lab.Lab.FrameArrives(vm2, vm1, Frames.Ethernet(Frames.Broadcast, vm2.Mac, etherType, "00010800060400010000"), filter),
            $"{what} from the unfiltered VM arrives");
    }

    [SkippableFact]
    public void IPv6IsDropped()
    {
        var (vm0, vm1, vm2) = (Lab.Vms[0], Lab.Vms[1], Lab.Vms[2]);
        Assert.False(Lab.Lab.Ping(vm0.Namespace, vm1.IPv6, timeout: TimeSpan.FromSeconds(1)));
        Assert.True(Lab.Lab.Ping(vm2.Namespace, vm1.IPv6, timeout: TimeSpan.FromSeconds(3)), "the unfiltered VM reaches vm1 over IPv6");
    }
}

/// <summary>clean-traffic with the ebtables/iptables backend (libvirt's 'iptables').</summary>
[Collection(NetnsCollection.Name)]
public sealed class CleanTrafficPacketTestsEbIpTables() : CleanTrafficPacketTestsBase(FirewallBackendKind.EbIpTables);

/// <summary>clean-traffic with the nftables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class CleanTrafficPacketTestsNftables() : CleanTrafficPacketTestsBase(FirewallBackendKind.Nftables);
