using System.Net;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Trace;

namespace NwFilter.Core.Tests.Trace;

/// <summary>
/// The simulated verdict equals the packet's real fate, on the real kernel, for the packet matrix of
/// CleanTrafficPacketTests and TestEth0PacketTests (clean-traffic and the built-in filters it pulls in, and the seed's
/// test-eth0), on both backends. Each real exchange (ping, TCP connect, UDP datagram, hand-made frame) is simulated
/// packet by packet (its ARP, the request, the replies with their connection state) and "gets through" in simulation
/// when every packet is accepted; a real "does not get through" has its positive control (the same exchange from the
/// unfiltered vm2 succeeds). Every case is checked and all disagreements are reported at once.
/// </summary>
public abstract class TraceAgreementTestsBase(FirewallBackendKind backend)
{
    private const string ForgedMac = "52:54:00:66:66:66";
    private const string ForgedIp = "10.213.0.99";

    private sealed class Checker(BindingLab lab, FilterBinding binding)
    {
        private readonly NwFilter.Core.Resolution.Resolution _resolution =
            FilterResolver.Resolve(lab.Filters, binding.Filter, binding.Parameters, binding.MacAddress);

        public List<string> Disagreements { get; } = [];

        public LabVm Vm { get; } = lab.Vms[0];

        /// <summary>Compares a real outcome with the simulation of its packets (passes = all accepted, or any when <paramref name="any"/>).</summary>
        public void Agree(string what, bool real, IEnumerable<TracePacket> packets, bool any = false)
        {
            var traces = packets.Select(p => (Packet: p, Result: PacketTracer.Trace(_resolution, p, Vm.PortDevice))).ToList();
            var passes = any ? traces.Any(t => t.Result.Verdict == TraceVerdict.Accept) : traces.All(t => t.Result.Verdict == TraceVerdict.Accept);
            if (passes != real)
            {
                var detail = string.Join("; ", traces.Select(t => $"[{t.Packet}] {t.Result.Verdict}: {t.Result.Decision.Reason}"));
                Disagreements.Add($"{what}: real {(real ? "passed" : "blocked")}, simulated {(passes ? "passed" : "blocked")} ({detail})");
            }
        }

        public IEnumerable<TracePacket> Describe(params TracePacketDescription[] packets) =>
            packets.Select(d => TracePacketBuilder.Build(d, binding.MacAddress, [IPAddress.Parse(Vm.IPv4)]));

        public TracePacket Frame(string hex) =>
            PcapFile.Decode(Convert.FromHexString(hex), binding.MacAddress, null, false, null, null, out var error) ?? throw new InvalidOperationException(error);
    }

    private static readonly TracePacketDescription Out = new() { Direction = TraceDirection.Out };
    private static readonly TracePacketDescription In = new() { Direction = TraceDirection.In };
    private const TraceConnectionState Est = TraceConnectionState.Established;
    private const TraceConnectionDirection Reply = TraceConnectionDirection.Reply;

    /// <summary>The VM resolves <paramref name="peer"/> (ARP request out, reply in).</summary>
    private static TracePacketDescription[] ArpOut(LabVm vm, string peer, string? peerMac) =>
    [
        Out with { Protocol = "arp", DestinationAddress = peer },
        In with { Protocol = "arp", ArpOpcode = 2, SourceMac = peerMac, SourceAddress = peer, DestinationAddress = vm.IPv4 },
    ];

    /// <summary>A peer resolves the VM (ARP request in, broadcast; reply out).</summary>
    private static TracePacketDescription[] ArpIn(LabVm vm, LabVm peer) =>
    [
        In with { Protocol = "arp", SourceMac = peer.Mac, DestinationMac = "ff:ff:ff:ff:ff:ff", SourceAddress = peer.IPv4, DestinationAddress = vm.IPv4 },
        Out with { Protocol = "arp", ArpOpcode = 2, DestinationMac = peer.Mac, SourceAddress = vm.IPv4, DestinationAddress = peer.IPv4 },
    ];

    private static TracePacketDescription[] PingOut(LabVm vm, string peer, string? peerMac, bool host = false) =>
    [
        .. ArpOut(vm, peer, peerMac),
        Out with { Protocol = "icmp", DestinationMac = peerMac, DestinationAddress = peer, ToHost = host },
        In with { Protocol = "icmp", IcmpType = 0, SourceMac = peerMac, SourceAddress = peer, ConnectionState = Est, ConnectionDirection = Reply, FromHost = host },
    ];

    private static TracePacketDescription[] PingIn(LabVm vm, LabVm peer) =>
    [
        .. ArpIn(vm, peer),
        In with { Protocol = "icmp", SourceMac = peer.Mac, SourceAddress = peer.IPv4 },
        Out with { Protocol = "icmp", IcmpType = 0, DestinationMac = peer.Mac, DestinationAddress = peer.IPv4, ConnectionState = Est, ConnectionDirection = Reply },
    ];

    private static TracePacketDescription[] TcpOut(LabVm vm, LabVm peer, int port) =>
    [
        .. ArpOut(vm, peer.IPv4, peer.Mac),
        Out with { Protocol = "tcp", DestinationMac = peer.Mac, DestinationAddress = peer.IPv4, DestinationPort = port },
        In with { Protocol = "tcp", SourceMac = peer.Mac, SourceAddress = peer.IPv4, SourcePort = port, DestinationPort = 49152, TcpFlags = "SYN,ACK", ConnectionState = Est, ConnectionDirection = Reply },
        Out with { Protocol = "tcp", DestinationMac = peer.Mac, DestinationAddress = peer.IPv4, DestinationPort = port, TcpFlags = "ACK", ConnectionState = Est },
    ];

    private static TracePacketDescription[] TcpIn(LabVm vm, LabVm peer, int port) =>
    [
        .. ArpIn(vm, peer),
        In with { Protocol = "tcp", SourceMac = peer.Mac, SourceAddress = peer.IPv4, DestinationPort = port },
        Out with { Protocol = "tcp", DestinationMac = peer.Mac, DestinationAddress = peer.IPv4, SourcePort = port, DestinationPort = 49152, TcpFlags = "SYN,ACK", ConnectionState = Est, ConnectionDirection = Reply },
        In with { Protocol = "tcp", SourceMac = peer.Mac, SourceAddress = peer.IPv4, DestinationPort = port, TcpFlags = "ACK", ConnectionState = Est },
    ];

    private static TracePacketDescription[] UdpOut(LabVm vm, string peer, string? peerMac, int port, bool host = false) =>
    [
        .. ArpOut(vm, peer, peerMac),
        Out with { Protocol = "udp", DestinationMac = peerMac, DestinationAddress = peer, DestinationPort = port, ToHost = host },
    ];

    private static TracePacketDescription[] UdpIn(LabVm vm, LabVm peer, int port) =>
    [
        .. ArpIn(vm, peer),
        In with { Protocol = "udp", SourceMac = peer.Mac, SourceAddress = peer.IPv4, DestinationPort = port },
    ];

    [SkippableFact]
    public void CleanTrafficSimulatedVerdictsAreThePacketsRealFate()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(3, backend);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        var binding = BindingLab.CleanTraffic(vm0);
        lab.Apply(binding);
        var c = new Checker(lab, binding);
        var net = lab.Lab;

        c.Agree("ping vm0 -> vm1", net.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), c.Describe(PingOut(vm0, vm1.IPv4, vm1.Mac)));
        c.Agree("ping vm1 -> vm0", net.Ping(vm1.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(3)), c.Describe(PingIn(vm0, vm1)));
        c.Agree("ping vm0 -> host", net.Ping(vm0.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(3)),
            c.Describe(PingOut(vm0, NetnsLab.BridgeIPv4, null, host: true)));
        c.Agree("TCP vm0 -> vm1:5101", net.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 5101), c.Describe(TcpOut(vm0, vm1, 5101)));
        c.Agree("UDP vm0 -> vm1:5102", net.UdpDelivered(vm0.Namespace, vm1.Namespace, vm1.IPv4, 5102), c.Describe(UdpOut(vm0, vm1.IPv4, vm1.Mac, 5102)));

        var spoofedMac = net.SpoofedMacArrives(vm0, vm1, ForgedMac);
        Assert.True(net.SpoofedMacArrives(vm2, vm1, "52:54:00:66:66:67"), "control: the forged MAC from the unfiltered VM arrives");
        c.Agree("forged source MAC (its ARP and ping)", spoofedMac, c.Describe(
            Out with { Protocol = "arp", SourceMac = ForgedMac, DestinationAddress = vm1.IPv4 },
            Out with { Protocol = "icmp", SourceMac = ForgedMac, DestinationMac = vm1.Mac, DestinationAddress = vm1.IPv4 }), any: true);

        var spoofedIp = net.SpoofedIPv4Arrives(vm0, vm1, ForgedIp);
        Assert.True(net.SpoofedIPv4Arrives(vm2, vm1, "10.213.0.98"), "control: the forged IP from the unfiltered VM arrives");
        c.Agree("forged source IP", spoofedIp, c.Describe(Out with { Protocol = "icmp", SourceAddress = ForgedIp, DestinationMac = vm1.Mac, DestinationAddress = vm1.IPv4 }));

        foreach (var (forged, forgeMac, forgeIp) in new[] { ("sender MAC", true, false), ("sender IP", false, true), ("nothing", false, false) })
        {
            var senderIp = forgeIp ? ForgedIp : vm0.IPv4;
            var frame = Frames.ArpRequest(vm0.Mac, forgeMac ? ForgedMac : vm0.Mac, senderIp, vm1.IPv4);
            var arrives = net.FrameArrives(vm0, vm1, frame, $"arp and ether[28:4] == 0x{Frames.Ip(senderIp)}");
            var control = Frames.ArpRequest(vm2.Mac, forgeMac ? ForgedMac : vm2.Mac, forgeIp ? ForgedIp : vm2.IPv4, vm1.IPv4);
            Assert.True(net.FrameArrives(vm2, vm1, control, $"arp and ether[28:4] == 0x{Frames.Ip(forgeIp ? ForgedIp : vm2.IPv4)}"), $"control: ARP forging {forged} from vm2 arrives");
            c.Agree($"ARP forging {forged} (the frame itself)", arrives, [c.Frame(frame)]);
        }

        foreach (var etherType in new ushort[] { 0x8035, 0x88b5 })
        {
            var frame = Frames.Ethernet(Frames.Broadcast, vm0.Mac, etherType, "00010800060400010000");
            var filter = $"ether proto 0x{etherType:x4}";
            var arrives = net.FrameArrives(vm0, vm1, frame, filter);
            Assert.True(net.FrameArrives(vm2, vm1, Frames.Ethernet(Frames.Broadcast, vm2.Mac, etherType, "00010800060400010000"), filter), $"control: 0x{etherType:x4} from vm2 arrives");
            c.Agree($"ether type 0x{etherType:x4} (the frame itself)", arrives, [c.Frame(frame)]);
        }

        var v6 = net.Ping(vm0.Namespace, vm1.IPv6, timeout: TimeSpan.FromSeconds(1));
        Assert.True(net.Ping(vm2.Namespace, vm1.IPv6, timeout: TimeSpan.FromSeconds(3)), "control: vm2 reaches vm1 over IPv6");
        c.Agree("ping6 vm0 -> vm1 (neighbour solicitation, echo)", v6, c.Describe(
            Out with { Protocol = "icmpv6", IcmpType = 135, DestinationMac = "33:33:ff:00:00:11", SourceAddress = vm0.IPv6, DestinationAddress = "ff02::1:ff00:11" },
            Out with { Protocol = "icmpv6", DestinationMac = vm1.Mac, SourceAddress = vm0.IPv6, DestinationAddress = vm1.IPv6 }));

        Assert.True(c.Disagreements.Count == 0, string.Join("\n", c.Disagreements));
    }

    [SkippableFact]
    public void TestEth0SimulatedVerdictsAreThePacketsRealFate()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(3, backend);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        var binding = BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4));
        lab.Apply(binding);
        var c = new Checker(lab, binding);
        var net = lab.Lab;
        var quick = TimeSpan.FromSeconds(1);

        c.Agree("TCP vm1 -> vm0:22", net.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 22), c.Describe(TcpIn(vm0, vm1, 22)));
        c.Agree("TCP vm1 -> vm0:80", net.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 80), c.Describe(TcpIn(vm0, vm1, 80)));
        var tcp8080 = net.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080, quick);
        Assert.True(net.TcpConnect(vm1.Namespace, vm2.Namespace, vm2.IPv4, 8080), "control: vm1 reaches the unfiltered vm2 on 8080");
        c.Agree("TCP vm1 -> vm0:8080", tcp8080, c.Describe(TcpIn(vm0, vm1, 8080)));
        c.Agree("ping vm0 -> vm1", net.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), c.Describe(PingOut(vm0, vm1.IPv4, vm1.Mac)));
        c.Agree("ping vm0 -> host", net.Ping(vm0.Namespace, NetnsLab.BridgeIPv4, timeout: TimeSpan.FromSeconds(3)),
            c.Describe(PingOut(vm0, NetnsLab.BridgeIPv4, null, host: true)));
        var pingIn = net.Ping(vm1.Namespace, vm0.IPv4, timeout: quick);
        Assert.True(net.Ping(vm1.Namespace, vm2.IPv4, timeout: TimeSpan.FromSeconds(3)), "control: vm1 pings the unfiltered vm2");
        c.Agree("ping vm1 -> vm0", pingIn, c.Describe(PingIn(vm0, vm1)));
        var udpIn = net.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv4, 5103, quick);
        Assert.True(net.UdpDelivered(vm1.Namespace, vm2.Namespace, vm2.IPv4, 5103), "control: UDP to the unfiltered vm2 arrives");
        c.Agree("UDP vm1 -> vm0:5103", udpIn, c.Describe(UdpIn(vm0, vm1, 5103)));
        var tcpOut = net.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 8081, quick);
        Assert.True(net.TcpConnect(vm2.Namespace, vm1.Namespace, vm1.IPv4, 8081), "control: the unfiltered vm2 connects to vm1:8081");
        c.Agree("TCP vm0 -> vm1:8081", tcpOut, c.Describe(TcpOut(vm0, vm1, 8081)));
        var udpHost = net.UdpDelivered(vm0.Namespace, net.HostNamespace, NetnsLab.BridgeIPv4, 5104, quick);
        Assert.True(net.UdpDelivered(vm2.Namespace, net.HostNamespace, NetnsLab.BridgeIPv4, 5104), "control: UDP from vm2 to the host arrives");
        c.Agree("UDP vm0 -> host:5104", udpHost, c.Describe(UdpOut(vm0, NetnsLab.BridgeIPv4, null, 5104, host: true)));

        Assert.True(c.Disagreements.Count == 0, string.Join("\n", c.Disagreements));
    }
}

/// <summary>The agreement with the ebtables/iptables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class TraceAgreementTestsEbIpTables() : TraceAgreementTestsBase(FirewallBackendKind.EbIpTables);

/// <summary>The agreement with the nftables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class TraceAgreementTestsNftables() : TraceAgreementTestsBase(FirewallBackendKind.Nftables);
