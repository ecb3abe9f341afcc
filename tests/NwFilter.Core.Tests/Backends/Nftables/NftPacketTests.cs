using System.Text.RegularExpressions;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// The nftables backend filters real packets exactly as the ebtables/iptables backend must (the same assertions as
/// the reference's packet tests): clean-traffic with MAC and IP, and the seed's test-eth0, whose layer-4 rules reach
/// the inet table through br_netfilter and the per-port marks.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class NftCleanTrafficPacketTests : IDisposable
{
    private const string ForgedMac = "52:54:00:66:66:66";
    private const string ForgedIp = "10.213.0.99";
    private readonly NftLab? _lab;

    public NftCleanTrafficPacketTests()
    {
        if (LabPrerequisites.Reason is null)
        {
            _lab = NftLab.Create(3);
            _lab.Apply(_lab.Vms[0], "clean-traffic");
        }
    }

    private NftLab Lab
    {
        get
        {
            LabPrerequisites.Require();
            return _lab!;
        }
    }

    public void Dispose() => _lab?.Dispose();

    [SkippableFact]
    public void TheVmsOwnTrafficPasses()
    {
        var (vm0, vm1) = (Lab.Vms[0], Lab.Vms[1]);
        Assert.True(Lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)));
        Assert.True(Lab.Lab.Ping(vm1.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(3)));
        Assert.True(Lab.Lab.Ping(vm0.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(3)));
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
        var frame = NftLabFrames.Arp(vm0.Mac, forgeMac ? ForgedMac : vm0.Mac, senderIp, vm1.IPv4);
        var arrives = Lab.Lab.FrameArrives(vm0, vm1, frame, $"arp and ether[28:4] == 0x{NftLabFrames.Ip(senderIp)}");
        Assert.True(arrives == (!forgeMac && !forgeIp), $"ARP forging {forged} from the filtered VM: arrived={arrives}");
        var controlIp = forgeIp ? ForgedIp : vm2.IPv4;
        var control = NftLabFrames.Arp(vm2.Mac, forgeMac ? ForgedMac : vm2.Mac, controlIp, vm1.IPv4);
        Assert.True(Lab.Lab.FrameArrives(vm2, vm1, control, $"arp and ether[28:4] == 0x{NftLabFrames.Ip(controlIp)}"), "the unfiltered VM's frame arrives");
    }

    [SkippableTheory]
    [InlineData((ushort)0x8035, "RARP")]
    [InlineData((ushort)0x88b5, "a local experimental ethertype")]
    public void OtherEthertypesAreDropped(ushort etherType, string what)
    {
        var (vm0, vm1, vm2) = (Lab.Vms[0], Lab.Vms[1], Lab.Vms[2]);
        var filter = $"ether proto 0x{etherType:x4}";
        Assert.False(Lab.Lab.FrameArrives(vm0, vm1, NftLabFrames.Ethernet(NftLabFrames.Broadcast, vm0.Mac, etherType, "00010800060400010000"), filter), what);
        Assert.True(Lab.Lab.FrameArrives(vm2, vm1, NftLabFrames.Ethernet(NftLabFrames.Broadcast, vm2.Mac, etherType, "00010800060400010000"), filter),
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

/// <summary>test-eth0 with real packets, and replacing a port's rules under load.</summary>
[Collection(NetnsCollection.Name)]
public sealed partial class NftTestEth0PacketTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [SkippableFact]
    public void SshAndHttpReachTheVmOtherPortsDoNotItPingsOutAndCannotBePinged()
    {
        using var lab = NftLab.Create(3);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "before binding, 8080 is open");

        lab.Apply(vm0, "test-eth0");

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
        Assert.True(lab.Lab.Ping(vm1.Namespace, vm2.IPv4, timeout: TimeSpan.FromSeconds(3)), "other VMs are unaffected");
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm2.Namespace, vm2.IPv4, 8080), "other VMs are unaffected (TCP)");

        // Both VMs filtered: the FI of one and the FO of the other both see the packet (input and output port marks).
        lab.Apply(vm1, "test-eth0");
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm2.IPv4, timeout: TimeSpan.FromSeconds(3)));
        Assert.False(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(1)), "vm0 may ping out, but vm1 may not be pinged");
        Assert.False(lab.Lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 22, TimeSpan.FromSeconds(1)), "vm0 opens no TCP connection, even to vm1's port 22");
        Assert.True(lab.Lab.TcpConnect(vm2.Namespace, vm1.Namespace, vm1.IPv4, 22), "vm1 still accepts SSH from an unfiltered VM");

        lab.Remove(vm0, vm1);
        Assert.True(lab.Lab.Ping(vm1.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(3)), "removed: vm0 can be pinged again");
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "removed: 8080 is open again");
    }

    [SkippableFact]
    public void Ipv6LayerFourRulesActThroughBrNetfilterToo()
    {
        using var lab = NftLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        const string Filter = """
            <filter name='udp6-in'>
              <rule action='accept' direction='in'><udp-ipv6 dstportstart='5353'/></rule>
              <rule action='accept' direction='inout'><icmpv6/></rule>
              <rule action='drop' direction='inout'><all-ipv6/></rule>
            </filter>
            """;
        lab.Apply(NftTestFilters.CompileXml(Filter, vm0.PortDevice, vm0.Mac));

        Assert.True(lab.Lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv6, 5353), "UDP/IPv6 to 5353 reaches the VM");
        Assert.False(lab.Lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv6, 5354, TimeSpan.FromSeconds(1)), "UDP/IPv6 to 5354 does not");
        Assert.False(lab.Lab.UdpDelivered(vm0.Namespace, vm1.Namespace, vm1.IPv6, 5353, TimeSpan.FromSeconds(1)), "the VM sends no UDP/IPv6");
        Assert.True(lab.Lab.Ping(vm1.Namespace, vm0.IPv6, timeout: TimeSpan.FromSeconds(3)), "ICMPv6 passes both ways");
        Assert.True(lab.Lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv4, 5354), "IPv4 is not touched by IPv6 rules");
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex PingSummary();

    [SkippableFact]
    public void ReplacingThePortsRulesUnderAPingFloodLosesNothingBothVersionsAllow()
    {
        using var lab = NftLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        // Three versions that all let vm0 ping vm1: with layer-4 rules (inet table), without (inet table deleted), another IP list.
        var versions = new[]
        {
            NftLab.Ruleset(vm0, "test-eth0"),
            NftLab.Ruleset(vm0, "clean-traffic"),
            NftLab.Ruleset(vm0, "test-eth0", vm0.IPv4, "10.213.0.200"),
        };
        lab.Apply(versions[0]);
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)));

        using var flood = lab.Lab.StartBackground(vm0.Namespace, "ping", "-n", "-q", "-i", "0.002", "-c", "1500", "-W", "1", vm1.IPv4);
        var replaces = 0;
        while (!flood.WaitForExit(TimeSpan.Zero) && replaces < 300)
        {
            lab.Apply(versions[++replaces % versions.Length]);
        }
        Assert.True(flood.WaitForExit(TimeSpan.FromSeconds(30)), "the flood ends");
        var summary = PingSummary().Match(flood.Output);
        Assert.True(summary.Success, flood.Output + flood.Error);
        Assert.True(replaces >= 10, $"only {replaces} replaces happened during the flood");
        output.WriteLine($"{replaces} replaces during the flood: {summary.Value}");
        Assert.Equal(summary.Groups[1].Value, summary.Groups[2].Value);
        Assert.Single(lab.State().Ports["vnet0"]);
    }
}
