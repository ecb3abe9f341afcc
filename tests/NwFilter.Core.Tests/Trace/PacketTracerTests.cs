using System.Net;
using System.Net.NetworkInformation;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Trace;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;

namespace NwFilter.Core.Tests.Trace;

/// <summary>
/// The in-process trace on libvirt's semantics, without a kernel: clean-traffic and the seed's test-eth0 decide the
/// packets the kernel tests send as those tests find, and the steps name the filter, priority and rule that decided.
/// (TraceAgreementTests checks the same verdicts against real packets.)
/// </summary>
public sealed class PacketTracerTests
{
    private static readonly PhysicalAddress VmMac = PhysicalAddress.Parse("52-54-00-11-22-33");
    private static readonly IPAddress VmIp = IPAddress.Parse("10.213.0.10");
    private static readonly IFilterSource Filters = new InMemoryFilterSource([.. BuiltInFilters.All, BindingLab.TestEth0]);

    private static NwFilter.Core.Resolution.Resolution Resolve(string filter) =>
        FilterResolver.Resolve(Filters, filter, Build.Params(("IP", VmIp.ToString())), VmMac);

    private static TraceResult Trace(string filter, TracePacketDescription packet) =>
        PacketTracer.Trace(Resolve(filter), TracePacketBuilder.Build(packet, VmMac, [VmIp]), "vnet0");

    [Fact]
    public void TheVmsOwnTrafficPassesCleanTraffic()
    {
        var tcp = Trace("clean-traffic", new() { Protocol = "tcp", DestinationAddress = "10.213.0.11", DestinationPort = 22 });
        Assert.Equal(TraceVerdict.Accept, tcp.Verdict);
        var arp = Trace("clean-traffic", new() { Protocol = "arp", DestinationAddress = "10.213.0.11" });
        Assert.Equal(TraceVerdict.Accept, arp.Verdict);
        var reply = Trace("clean-traffic", new() { Direction = TraceDirection.In, Protocol = "icmp", IcmpType = 0, SourceAddress = "10.213.0.11",
            ConnectionState = TraceConnectionState.Established, ConnectionDirection = TraceConnectionDirection.Reply });
        Assert.Equal(TraceVerdict.Accept, reply.Verdict);
    }

    [Fact]
    public void ASpoofedSourceMacIsDroppedByNoMacSpoofingWithItsRule()
    {
        var result = Trace("clean-traffic", new() { Protocol = "icmp", SourceMac = "52:54:00:66:66:66", DestinationAddress = "10.213.0.11" });
        Assert.Equal(TraceVerdict.Drop, result.Verdict);
        Assert.Equal("no-mac-spoofing", result.Decision.Filter);
        Assert.Equal(TraceStepKind.Decision, result.Decision.Kind);
        Assert.Contains("<mac", result.Decision.Rule, StringComparison.Ordinal);
        // The rule that returns for the VM's own MAC was considered first and did not match, saying why.
        var own = result.Steps.First(s => s.Filter == "no-mac-spoofing" && s.Kind == TraceStepKind.Rule);
        Assert.Null(own.Verdict);
        Assert.Contains("52:54:00:66:66:66", own.Reason, StringComparison.Ordinal);
        Assert.Contains(result.Steps, s => s.Kind == TraceStepKind.Jump && s.Reason.Contains("I-mac", StringComparison.Ordinal));
    }

    [Fact]
    public void ASpoofedSourceIpIsDroppedByNoIpSpoofing()
    {
        var result = Trace("clean-traffic", new() { Protocol = "icmp", SourceAddress = "10.213.0.99", DestinationAddress = "10.213.0.11" });
        Assert.Equal(TraceVerdict.Drop, result.Verdict);
        Assert.Equal("no-ip-spoofing", result.Decision.Filter);
    }

    [Theory]
    [InlineData("52:54:00:66:66:66", "10.213.0.10", "no-arp-mac-spoofing")]
    [InlineData(null, "10.213.0.99", "no-arp-ip-spoofing")]
    public void ArpWithASpoofedSenderIsDropped(string? mac, string ip, string filter)
    {
        var result = Trace("clean-traffic", new() { Protocol = "arp", ArpSenderMac = mac, SourceAddress = ip, DestinationAddress = "10.213.0.11" });
        Assert.Equal(TraceVerdict.Drop, result.Verdict);
        Assert.Equal(filter, result.Decision.Filter);
    }

    [Theory]
    [InlineData("rarp", null, "no-other-rarp-traffic")]
    [InlineData("mac", "0x88b5", "no-other-l2-traffic")]
    [InlineData("ipv6", null, "no-other-l2-traffic")]
    public void OtherProtocolsAreDropped(string protocol, string? etherType, string filter)
    {
        var result = Trace("clean-traffic", new() { Protocol = protocol, EtherType = etherType });
        Assert.Equal(TraceVerdict.Drop, result.Verdict);
        Assert.Equal(filter, result.Decision.Filter);
    }

    [Theory]
    [InlineData(22, TraceVerdict.Accept)]
    [InlineData(80, TraceVerdict.Accept)]
    [InlineData(8080, TraceVerdict.Drop)]
    public void TestEth0LetsSshAndHttpInAndNothingElse(int port, TraceVerdict expected)
    {
        var result = Trace("test-eth0", new() { Direction = TraceDirection.In, Protocol = "tcp", SourceAddress = "10.213.0.11", DestinationPort = port });
        Assert.Equal(expected, result.Verdict);
        Assert.Equal("test-eth0", result.Decision.Filter);
        Assert.Equal("FO", result.Decision.Chain);
    }

    [Fact]
    public void TestEth0PingsOutButCannotBePingedAndItsUdpToTheHostMeetsHi()
    {
        Assert.Equal(TraceVerdict.Accept, Trace("test-eth0", new() { Protocol = "icmp", DestinationAddress = "10.213.0.11" }).Verdict);
        var toHost = Trace("test-eth0", new() { Protocol = "icmp", DestinationAddress = "10.213.0.1", ToHost = true });
        Assert.Equal(TraceVerdict.Accept, toHost.Verdict);
        Assert.Contains(toHost.Steps, s => s.Chain == "HI");
        Assert.DoesNotContain(toHost.Steps, s => s.Chain == "FI");
        Assert.Equal(TraceVerdict.Drop, Trace("test-eth0", new() { Direction = TraceDirection.In, Protocol = "icmp", SourceAddress = "10.213.0.11" }).Verdict);
        var udp = Trace("test-eth0", new() { Protocol = "udp", DestinationAddress = "10.213.0.1", DestinationPort = 5000, ToHost = true });
        Assert.Equal(TraceVerdict.Drop, udp.Verdict);
        Assert.Equal("HI", udp.Decision.Chain);
    }

    [Fact]
    public void TheEchoReplyOfTheVmsPingMatchesTheEstablishedReplyCopy()
    {
        var reply = Trace("test-eth0", new() { Direction = TraceDirection.In, Protocol = "icmp", IcmpType = 0, SourceAddress = "10.213.0.11",
            ConnectionState = TraceConnectionState.Established, ConnectionDirection = TraceConnectionDirection.Reply });
        Assert.Equal(TraceVerdict.Accept, reply.Verdict);
        Assert.Contains("<icmp", reply.Decision.Rule, StringComparison.Ordinal);
        // The same reply arriving as a new connection is not the VM's ping: dropped.
        var unsolicited = Trace("test-eth0", new() { Direction = TraceDirection.In, Protocol = "icmp", IcmpType = 0, SourceAddress = "10.213.0.11" });
        Assert.Equal(TraceVerdict.Drop, unsolicited.Verdict);
    }

    [Fact]
    public void ReturnAndContinueAreFollowedAndAnEmptyTreeLetsThePacketPass()
    {
        var filter = Build.Filter("t", Build.Rule(Continue, Out, Tcp, 100, ("dstportstart", "22")),
            Build.Rule(Return, Out, Tcp, 200, ("dstportstart", "22")),
            Build.Rule(Drop, Out, Tcp, 300));
        var source = new InMemoryFilterSource(filter);
        var resolution = FilterResolver.Resolve(source, "t", ParameterSet.Empty, VmMac);
        var ssh = PacketTracer.Trace(resolution, TracePacketBuilder.Build(new() { Protocol = "tcp", DestinationPort = 22 }, VmMac, []));
        Assert.Equal(TraceVerdict.Continue, ssh.Steps[0].Verdict);
        Assert.Equal(TraceVerdict.Return, ssh.Steps[1].Verdict);
        Assert.Equal(TraceVerdict.Accept, ssh.Verdict);
        Assert.Equal(200, ssh.Decision.Priority);
        var other = PacketTracer.Trace(resolution, TracePacketBuilder.Build(new() { Protocol = "tcp", DestinationPort = 23 }, VmMac, []));
        Assert.Equal(TraceVerdict.Drop, other.Verdict);
        Assert.Equal(300, other.Decision.Priority);

        var empty = FilterResolver.Resolve(new InMemoryFilterSource(Build.Filter("e")), "e", ParameterSet.Empty, VmMac);
        var passed = PacketTracer.Trace(empty, TracePacketBuilder.Build(new() { Protocol = "udp", DestinationPort = 53 }, VmMac, []));
        Assert.Single(passed.Steps);
        Assert.Equal(TraceVerdict.Accept, passed.Verdict);
        Assert.Null(passed.Decision.Filter);
    }

    [Fact]
    public void RejectIsADropAtTheBridgeAndARejectInLayer4()
    {
        var filter = Build.Filter("r", Build.Rule(Reject, Out, Ip, ("protocol", "udp")), Build.Rule(Reject, Out, Tcp));
        var resolution = FilterResolver.Resolve(new InMemoryFilterSource(filter), "r", ParameterSet.Empty, VmMac);
        Assert.Equal(TraceVerdict.Drop, PacketTracer.Trace(resolution, TracePacketBuilder.Build(new() { Protocol = "udp", DestinationPort = 1 }, VmMac, [])).Verdict);
        Assert.Equal(TraceVerdict.Reject, PacketTracer.Trace(resolution, TracePacketBuilder.Build(new() { Protocol = "tcp", DestinationPort = 1 }, VmMac, [])).Verdict);
    }

    [Theory]
    [InlineData("SourceMac", "zz:00")]
    [InlineData("DestinationAddress", "10.0.0.300")]
    [InlineData("Protocol", "smtp")]
    [InlineData("TcpFlags", "SYN,BOGUS")]
    [InlineData("DestinationPort", null)]
    [InlineData("EtherType", "0x88b5")]
    [InlineData("SourceAddress", "fd00::1")]
    public void ABadPacketDescriptionNamesTheField(string field, string? value)
    {
        var d = field switch
        {
            "SourceMac" => new TracePacketDescription { Protocol = "tcp", DestinationPort = 1, SourceMac = value },
            "DestinationAddress" => new TracePacketDescription { Protocol = "tcp", DestinationPort = 1, DestinationAddress = value },
            "Protocol" => new TracePacketDescription { Protocol = value! },
            "TcpFlags" => new TracePacketDescription { Protocol = "tcp", DestinationPort = 1, TcpFlags = value },
            "DestinationPort" => new TracePacketDescription { Protocol = "udp" },
            "EtherType" => new TracePacketDescription { Protocol = "arp", EtherType = value },
            _ => new TracePacketDescription { Protocol = "arp", SourceAddress = value },
        };
        var e = Assert.Throws<NwFilterException>(() => TracePacketBuilder.Build(d, VmMac, [VmIp]));
        Assert.Equal(TraceCodes.BadPacketField, e.Primary.Code);
        Assert.Equal(field, e.Primary.Attribute);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFrameReadFromAPcapFileTracesLikeTheDescribedPacket()
    {
        var forged = Frames.ArpRequest("52:54:00:11:22:33", "52:54:00:66:66:66", "10.213.0.10", "10.213.0.11");
        var own = Frames.ArpRequest("52:54:00:11:22:33", "52:54:00:11:22:33", "10.213.0.10", "10.213.0.11");
        using var dir = new TempDirectory("nwfilter-trace");
        var path = dir.Combine("arp.pcap");
        WritePcap(path, [Convert.FromHexString(forged), Convert.FromHexString(own)]);
        var frames = PcapFile.ReadFrames(path);
        Assert.Equal(2, frames.Count);
        var resolution = Resolve("clean-traffic");
        var verdicts = frames.Select(f => PacketTracer.Trace(resolution, PcapFile.Decode(f, VmMac, null, false, null, null, out _)!).Verdict).ToArray();
        Assert.Equal([TraceVerdict.Drop, TraceVerdict.Accept], verdicts);
        var decoded = PcapFile.Decode(frames[0], VmMac, null, false, null, null, out _)!;
        Assert.Equal(TraceDirection.Out, decoded.Direction);
        Assert.Equal("52:54:00:66:66:66", TracePacket.Mac(decoded.ArpSenderMac));
    }

    [Fact]
    public void ACaptureThatIsNotClassicEthernetPcapIsRefusedNamingTheFile()
    {
        using var dir = new TempDirectory("nwfilter-trace");
        var path = dir.Combine("x.pcapng");
        File.WriteAllBytes(path, [0x0a, 0x0d, 0x0d, 0x0a, .. new byte[28]]);
        var e = Assert.Throws<NwFilterException>(() => PcapFile.ReadFrames(path));
        Assert.Equal(TraceCodes.BadCapture, e.Primary.Code);
        Assert.Contains("pcapng", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        var cut = dir.Combine("cut.pcap");
        File.WriteAllBytes(cut, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0, 1, 2, 3]);
        Assert.Contains("cut short", Assert.Throws<NwFilterException>(() => PcapFile.ReadFrames(cut)).Message, StringComparison.Ordinal);
    }

    /// <summary>Writes a little-endian microsecond pcap with Ethernet link type, as tcpdump -w does.</summary>
    internal static void WritePcap(string path, IReadOnlyList<byte[]> frames)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write(0xa1b2c3d4u);
        w.Write((ushort)2);
        w.Write((ushort)4);
        w.Write(0);
        w.Write(0u);
        w.Write(65535u);
        w.Write(1u);
        foreach (var f in frames)
        {
            w.Write(0u);
            w.Write(0u);
            w.Write((uint)f.Length);
            w.Write((uint)f.Length);
            w.Write(f);
        }
    }
}
