using System.Globalization;
using System.Net;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// The layer-2 spoof matrix for nwfilter-clean-traffic-dual-stack, bound with the VM's IPv4 and IPv6 addresses, on the
/// real kernel: vm0 is filtered, vm1 observes, vm2 is unfiltered and sends the same forgery as the positive control.
/// Each row is one forged frame, named in the test output.
/// </summary>
public abstract class DualStackSpoofMatrixTestsBase : IDisposable
{
    private const string ForgedMac = "52:54:00:66:66:66";
    private const string ForgedIPv4 = "10.213.0.99";
    private const string ForgedIPv6 = "fd00:213::99";
    private readonly BindingLab? _lab;

    protected DualStackSpoofMatrixTestsBase(FirewallBackendKind backend)
    {
        if (LabPrerequisites.Reason is null)
        {
            _lab = BindingLab.Create(3, backend);
            try
            {
                var vm0 = _lab.Vms[0];
                _lab.Apply(BindingLab.Binding(vm0, "nwfilter-clean-traffic-dual-stack", ("IP", vm0.IPv4), ("IPV6", vm0.IPv6)));
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

    public static TheoryData<string> Cases() => [.. Matrix.Keys.Order(StringComparer.Ordinal)];

    [SkippableFact]
    public void TheVmsOwnIPv4AndIPv6TrafficPasses()
    {
        var (vm0, vm1) = (Lab.Vms[0], Lab.Vms[1]);
        Assert.True(Lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), "IPv4 ping");
        Assert.True(Lab.Lab.Ping(vm0.Namespace, vm1.IPv6, timeout: TimeSpan.FromSeconds(3)), "IPv6 ping");
        Assert.True(Lab.Lab.Ping(vm1.Namespace, vm0.IPv6, timeout: TimeSpan.FromSeconds(3)), "IPv6 ping towards the VM");
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void ForgedFrameIsDropped(string name)
    {
        var (vm0, vm1, vm2) = (Lab.Vms[0], Lab.Vms[1], Lab.Vms[2]);
        var (frame, filter) = Matrix[name](vm0, vm1);
        Assert.False(Lab.Lab.FrameArrives(vm0, vm1, frame, filter), $"{name} from the filtered VM arrived");
        var (control, controlFilter) = Matrix[name](vm2, vm1);
        Assert.True(Lab.Lab.FrameArrives(vm2, vm1, control, controlFilter), $"{name} from the unfiltered VM does not arrive (no positive control)");
    }

    private delegate (string Frame, string Filter) Case(LabVm sender, LabVm observer);

    private static readonly Dictionary<string, Case> Matrix = new(StringComparer.Ordinal)
    {
        ["forged source MAC"] = (s, o) =>
            (Frames.Ethernet(o.Mac, ForgedMac, 0x0800, V4.Udp(s.IPv4, o.IPv4)), $"ether src {ForgedMac}"),
        ["forged IPv4 source"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x0800, V4.Udp(ForgedIPv4, o.IPv4)), $"ether src {s.Mac} and ip src host {ForgedIPv4}"),
        ["forged IPv6 source"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Packet(ForgedIPv6, o.IPv6, 17, V6.UdpPayload(40000, 40001))), $"ether src {s.Mac} and ip6 src host {ForgedIPv6}"),
        ["ARP with forged sender IP"] = (s, o) =>
            (Frames.ArpRequest(s.Mac, s.Mac, ForgedIPv4, o.IPv4), $"ether src {s.Mac} and arp and ether[28:4] == 0x{Frames.Ip(ForgedIPv4)}"),
        ["ARP with forged sender MAC"] = (s, o) =>
            (Frames.ArpRequest(s.Mac, ForgedMac, s.IPv4, o.IPv4), $"ether src {s.Mac} and arp and ether[22:4] == 0x{Frames.Mac(ForgedMac)[..8]}"),
        ["RARP with forged sender"] = (s, o) =>
            (Frames.Arp(s.Mac, 3, ForgedMac, ForgedIPv4, ForgedMac, "0.0.0.0", 0x8035), $"ether src {s.Mac} and ether proto 0x8035"),
        ["NA with forged source address"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Packet(ForgedIPv6, o.IPv6, 58, V6.Icmp(136, "60000000" + V6.Hex(ForgedIPv6)))),
                $"ether src {s.Mac} and icmp6 and ip6[40] == 136"),
        ["RA from the VM"] = (s, o) =>
            (Frames.Ethernet("33:33:00:00:00:01", s.Mac, 0x86dd, V6.Packet(s.IPv6, "ff02::1", 58, V6.Icmp(134, "40000708" + "00000000" + "00000000"))),
                $"ether src {s.Mac} and icmp6 and ip6[40] == 134"),
        ["redirect from the VM"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Packet(s.IPv6, o.IPv6, 58, V6.Icmp(137, "00000000" + V6.Hex(ForgedIPv6) + V6.Hex(ForgedIPv6)))),
                $"ether src {s.Mac} and icmp6 and ip6[40] == 137"),
        ["DHCPv6 server reply from the VM"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Packet(s.IPv6, o.IPv6, 17, V6.UdpPayload(547, 546))), $"ether src {s.Mac} and udp src port 547"),
        ["802.1Q-tagged forged IPv4 source"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x8100, "0064" + "0800" + V4.Udp(ForgedIPv4, o.IPv4)), $"ether src {s.Mac} and vlan"),
        ["802.1Q-tagged own IPv4"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x8100, "0064" + "0800" + V4.Udp(s.IPv4, o.IPv4)), $"ether src {s.Mac} and vlan"),
        ["802.1Q-tagged RA"] = (s, o) =>
            (Frames.Ethernet("33:33:00:00:00:01", s.Mac, 0x8100, "0064" + "86dd" + V6.Packet(s.IPv6, "ff02::1", 58, V6.Icmp(134, "40000708" + "0000000000000000"))),
                $"ether src {s.Mac} and vlan"),
        ["802.1Q-tagged ARP with forged sender IP"] = (s, o) =>
            (Frames.Ethernet(Frames.Broadcast, s.Mac, 0x8100, "0064" + Frames.ArpRequest(s.Mac, s.Mac, ForgedIPv4, o.IPv4)[24..]), $"ether src {s.Mac} and vlan"),
        ["802.1ad (Q-in-Q) forged IPv4 source"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x88a8, "00c8" + "8100" + "0064" + "0800" + V4.Udp(ForgedIPv4, o.IPv4)), $"ether src {s.Mac} and (vlan or ether[12:2] == 0x88a8)"),
        ["802.1ad (Q-in-Q) forged IPv6 source"] = (s, o) =>
            (Frames.Ethernet(o.Mac, s.Mac, 0x88a8, "00c8" + "8100" + "0064" + "86dd" + V6.Packet(ForgedIPv6, o.IPv6, 17, V6.UdpPayload(40000, 40001))),
                $"ether src {s.Mac} and (vlan or ether[12:2] == 0x88a8)"),
        ["ethertype 0x88cc (LLDP)"] = (s, o) =>
            (Frames.Ethernet(Frames.Broadcast, s.Mac, 0x88cc, "0207046c6c6470"), $"ether src {s.Mac} and ether proto 0x88cc"),
        ["ethertype 0x8863 (PPPoE discovery)"] = (s, o) =>
            (Frames.Ethernet(Frames.Broadcast, s.Mac, 0x8863, "1109000000040101" + "0000"), $"ether src {s.Mac} and ether proto 0x8863"),
        ["ethertype 0x0842 (wake-on-LAN)"] = (s, o) =>
            (Frames.Ethernet(Frames.Broadcast, s.Mac, 0x0842, "ffffffffffff" + string.Concat(Enumerable.Repeat(Frames.Mac(o.Mac), 16))),
                $"ether src {s.Mac} and ether proto 0x0842"),
        ["runt frame (16 bytes, unknown ethertype)"] = (s, o) =>
            (Frames.Mac(Frames.Broadcast) + Frames.Mac(s.Mac) + "88b5" + "abcd", $"ether src {s.Mac} and ether proto 0x88b5"),
    };

    private static class V4
    {
        /// <summary>An IPv4 header (checksum computed) with an 8-byte UDP datagram, ports 40000 to 40001.</summary>
        public static string Udp(string source, string destination)
        {
            var header = "4500" + "001c" + "1234" + "0000" + "40" + "11" + "0000" + Frames.Ip(source) + Frames.Ip(destination);
            var bytes = Convert.FromHexString(header);
            var sum = 0;
            for (var i = 0; i < bytes.Length; i += 2)
            {
                sum += (bytes[i] << 8) | bytes[i + 1];
            }
            while (sum > 0xffff)
            {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            var checksum = (~sum & 0xffff).ToString("x4", CultureInfo.InvariantCulture);
            return header[..20] + checksum + header[24..] + "9c409c41" + "0008" + "0000";
        }
    }

    private static class V6
    {
        public static string Hex(string address) => Convert.ToHexString(IPAddress.Parse(address).GetAddressBytes()).ToLowerInvariant();

        /// <summary>An IPv6 header with hop limit 255 and the given next header and payload.</summary>
        public static string Packet(string source, string destination, int nextHeader, string payloadHex) =>
            "60000000" + (payloadHex.Length / 2).ToString("x4", CultureInfo.InvariantCulture) + nextHeader.ToString("x2", CultureInfo.InvariantCulture) + "ff"
            + Hex(source) + Hex(destination) + payloadHex;

        /// <summary>An ICMPv6 message (checksum left zero: the bridge does not check it, the capture sees the frame).</summary>
        public static string Icmp(int type, string bodyHex) => type.ToString("x2", CultureInfo.InvariantCulture) + "00" + "0000" + bodyHex;

        public static string UdpPayload(int sourcePort, int destinationPort) =>
            sourcePort.ToString("x4", CultureInfo.InvariantCulture) + destinationPort.ToString("x4", CultureInfo.InvariantCulture) + "000c" + "0000" + "deadbeef";
    }
}

/// <summary>The dual-stack spoof matrix with the ebtables/iptables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class DualStackSpoofMatrixTestsEbIpTables() : DualStackSpoofMatrixTestsBase(FirewallBackendKind.EbIpTables);

/// <summary>The dual-stack spoof matrix with the nftables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class DualStackSpoofMatrixTestsNftables() : DualStackSpoofMatrixTestsBase(FirewallBackendKind.Nftables);
