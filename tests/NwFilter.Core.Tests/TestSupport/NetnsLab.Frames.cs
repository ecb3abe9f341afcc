using System.Globalization;
using System.Net;
using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>Hand-made Ethernet frames sent from a VM through a raw packet socket, and whether they arrive.</summary>
public sealed partial class NetnsLab
{
    // AF_PACKET (17) / SOCK_RAW (3) socket bound by sockaddr_ll to the interface; sends the frame COUNT times, GAP seconds apart.
    private const string FrameSender =
        "my ($if, $hex, $count, $gap) = @ARGV; my $frame = pack('H*', $hex); socket(my $s, 17, 3, 0) or die \"socket: $!\"; "
        + "open(my $f, '<', \"/sys/class/net/$if/ifindex\") or die \"ifindex: $!\"; my $idx = <$f>; chomp $idx; "
        + "my $addr = pack('S n i S C C a8', 17, 0, $idx, 0, 0, 6, substr($frame, 0, 6)); "
        + "for (1 .. $count) { send($s, $frame, 0, $addr) or die \"send: $!\"; select(undef, undef, undef, $gap) if $gap > 0; }";

    // The same socket, for many frames: each argument after the interface is one frame's hex, each sent COUNT times.
    private const string FramesSender =
        "my ($if, $count, @hex) = @ARGV; socket(my $s, 17, 3, 0) or die \"socket: $!\"; "
        + "open(my $f, '<', \"/sys/class/net/$if/ifindex\") or die \"ifindex: $!\"; my $idx = <$f>; chomp $idx; "
        + "for my $h (@hex) { my $frame = pack('H*', $h); my $addr = pack('S n i S C C a8', 17, 0, $idx, 0, 0, 6, substr($frame, 0, 6)); "
        + "for (1 .. $count) { send($s, $frame, 0, $addr) or die \"send (\" . length($frame) . \" bytes): $!\"; select(undef, undef, undef, 0.002); } }";

    /// <summary>Sends many raw frames (hex, Ethernet header included) from the VM's interface with one program, each <paramref name="count"/> times.</summary>
    public void SendFrames(LabVm vm, IEnumerable<string> framesHex, int count = 2) =>
        Run(vm.Namespace, new ProcessRequest("perl", new[] { "-e", FramesSender, vm.Interface, Int(count) }.Concat(framesHex).ToArray())
        {
            Timeout = TimeSpan.FromSeconds(20),
        }).EnsureSuccess();

    /// <summary>Sends a raw frame (hex, Ethernet header included) from the VM's interface <paramref name="count"/> times.</summary>
    public void SendFrame(LabVm vm, string frameHex, int count = 3, double gapSeconds = 0.05) =>
        Run(vm.Namespace, new ProcessRequest("perl", "-e", FrameSender, vm.Interface, frameHex, Int(count), gapSeconds.ToString(CultureInfo.InvariantCulture))
        {
            Timeout = TimeSpan.FromSeconds(10 + (count * gapSeconds)),
        }).EnsureSuccess();

    /// <summary>Starts a raw frame sender in the background (for a flood while something else happens).</summary>
    public LabProcess StartFrameFlood(LabVm vm, string frameHex, int count, double gapSeconds) =>
        StartBackground(vm.Namespace, "perl", "-e", FrameSender, vm.Interface, frameHex, Int(count), gapSeconds.ToString(CultureInfo.InvariantCulture));

    /// <summary>Sends the frame from <paramref name="sender"/> and reports whether <paramref name="observer"/> saw a frame matching the pcap filter.</summary>
    public bool FrameArrives(LabVm sender, LabVm observer, string frameHex, string pcapFilter, TimeSpan? window = null)
    {
        using var capture = StartCapture(observer, pcapFilter);
        SendFrame(sender, frameHex);
        return capture.WaitForExit(window ?? TimeSpan.FromSeconds(1)) && capture.Output.Length > 0;
    }
}

/// <summary>Builds Ethernet frames as hex strings.</summary>
public static class Frames
{
    public const string Broadcast = "ff:ff:ff:ff:ff:ff";

    /// <summary>An Ethernet frame, padded to the 60-byte minimum.</summary>
    public static string Ethernet(string destination, string source, ushort etherType, string payloadHex)
    {
        var hex = Mac(destination) + Mac(source) + etherType.ToString("x4", CultureInfo.InvariantCulture) + payloadHex;
        return hex.PadRight(120, '0');
    }

    /// <summary>An ARP (or RARP, <paramref name="etherType"/> 0x8035) frame for IPv4 over Ethernet.</summary>
    public static string Arp(string ethSource, ushort opcode, string senderMac, string senderIp, string targetMac, string targetIp, ushort etherType = 0x0806) =>
        Ethernet(Broadcast, ethSource, etherType,
            "0001" + "0800" + "06" + "04" + opcode.ToString("x4", CultureInfo.InvariantCulture) +
            Mac(senderMac) + Ip(senderIp) + Mac(targetMac) + Ip(targetIp));

    /// <summary>A broadcast ARP request (opcode 1, target MAC zero) for <paramref name="targetIp"/>.</summary>
    public static string ArpRequest(string ethSource, string senderMac, string senderIp, string targetIp) =>
        Arp(ethSource, 1, senderMac, senderIp, "00:00:00:00:00:00", targetIp);

    /// <summary>
    /// An IPv4 UDP datagram in an Ethernet frame, with a correct IPv4 header checksum (br_netfilter drops a bad one
    /// before any filter sees it) and no UDP checksum; the source address may be forged.
    /// </summary>
    public static string Udp4(string destinationMac, string sourceMac, string sourceIp, string destinationIp, ushort sourcePort, ushort destinationPort, int payloadBytes = 18)
    {
        var udpLength = 8 + payloadBytes;
        var header = new byte[20];
        header[0] = 0x45;
        header[2] = (byte)((20 + udpLength) >> 8);
        header[3] = (byte)(20 + udpLength);
        header[8] = 64;
        header[9] = 17;
        IPAddress.Parse(sourceIp).GetAddressBytes().CopyTo(header, 12);
        IPAddress.Parse(destinationIp).GetAddressBytes().CopyTo(header, 16);
        var sum = 0;
        for (var i = 0; i < 20; i += 2)
        {
            sum += (header[i] << 8) | header[i + 1];
        }
        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        var checksum = (ushort)~sum;
        header[10] = (byte)(checksum >> 8);
        header[11] = (byte)checksum;
        var udp = sourcePort.ToString("x4", CultureInfo.InvariantCulture) + destinationPort.ToString("x4", CultureInfo.InvariantCulture)
            + udpLength.ToString("x4", CultureInfo.InvariantCulture) + "0000" + new string('0', payloadBytes * 2);
        return Ethernet(destinationMac, sourceMac, 0x0800, Convert.ToHexString(header).ToLowerInvariant() + udp);
    }

    /// <summary>The hex of an IPv4 address (for frames and for pcap filters such as <c>ether[28:4] == 0x...</c>).</summary>
    public static string Ip(string address) => Convert.ToHexString(IPAddress.Parse(address).GetAddressBytes()).ToLowerInvariant();

    public static string Mac(string mac) => mac.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
}
