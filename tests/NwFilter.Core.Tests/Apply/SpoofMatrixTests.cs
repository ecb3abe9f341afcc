using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// The layer-2 spoof matrix on the real kernel (issue 15): one lab per backend, in which vm0 is bound with
/// clean-traffic, vm1 with nwfilter-clean-traffic-dual-stack, vm2 with the seed's test-eth0 (each with its own
/// addresses), vm3 is unfiltered and sends every frame too (the positive control) and vm4 observes. Every frame of
/// every sender goes out in one batch while vm4 captures; each test row then reads whether its frame arrived. Every
/// row is named in the test output: filter, case, and what is expected. A frame libvirt's own semantics let through is
/// a row that expects it to arrive and says why (<see cref="KnownPasses"/>; docs/design/libvirt-differences.md).
/// </summary>
public abstract class SpoofMatrixTestsBase
{
    private readonly SpoofMatrixLab _lab;

    protected SpoofMatrixTestsBase(SpoofMatrixLab lab) => _lab = lab;

    /// <summary>Every filter × case, with the expectation in the row's name.</summary>
    public static TheoryData<string, string, string> Rows(FirewallBackendKind backend)
    {
        var rows = new TheoryData<string, string, string>();
        foreach (var filter in SpoofMatrix.Filters)
        {
            foreach (var c in SpoofMatrix.Cases)
            {
                rows.Add(filter, c.Name, SpoofMatrix.Expected(backend, filter, c.Name).Text);
            }
        }
        return rows;
    }

    protected void Check(string filter, string caseName, string expected)
    {
        var outcome = _lab.Outcome(filter, caseName);
        Assert.True(outcome.ControlArrived, $"{filter} / {caseName}: the same frame from the unfiltered VM did not arrive (no positive control; {_lab.CapturedFrames} frames captured on {_lab.Backend}; {_lab.CaptureLog})");
        var expectation = SpoofMatrix.Expected(_lab.Backend, filter, caseName);
        Assert.Equal(expectation.Text, expected);
        Assert.True(outcome.Arrived == expectation.Arrives,
            $"{filter} / {caseName} on {_lab.Backend}: expected {expectation.Text}, but the frame {(outcome.Arrived ? "arrived" : "was dropped")}");
    }

    [SkippableFact]
    public void TheDualStackVmsOwnIPv4AndIPv6TrafficAndNeighbourDiscoveryWork() => _lab.CheckOwnTraffic();
}

/// <summary>The spoof matrix with the ebtables/iptables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class SpoofMatrixTestsEbIpTables(SpoofMatrixTestsEbIpTables.Lab lab) : SpoofMatrixTestsBase(lab), IClassFixture<SpoofMatrixTestsEbIpTables.Lab>
{
    public sealed class Lab() : SpoofMatrixLab(FirewallBackendKind.EbIpTables);

    public static TheoryData<string, string, string> Cases() => Rows(FirewallBackendKind.EbIpTables);

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Frame(string filter, string frame, string expected) => Check(filter, frame, expected);
}

/// <summary>The spoof matrix with the nftables backend.</summary>
[Collection(NetnsCollection.Name)]
public sealed class SpoofMatrixTestsNftables(SpoofMatrixTestsNftables.Lab lab) : SpoofMatrixTestsBase(lab), IClassFixture<SpoofMatrixTestsNftables.Lab>
{
    public sealed class Lab() : SpoofMatrixLab(FirewallBackendKind.Nftables);

    public static TheoryData<string, string, string> Cases() => Rows(FirewallBackendKind.Nftables);

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Frame(string filter, string frame, string expected) => Check(filter, frame, expected);
}

/// <summary>What a row expects: dropped, or arriving (own traffic, or a pass libvirt's semantics allow, with why).</summary>
public sealed record SpoofExpectation(bool Arrives, string Text);

/// <summary>The filters, the cases and the expectations of the matrix.</summary>
public static class SpoofMatrix
{
    public const string CleanTraffic = "clean-traffic";
    public const string DualStack = "nwfilter-clean-traffic-dual-stack";
    public const string Seed = "test-eth0";
    public const string ForgedMac = "52:54:00:66:66:66";
    public const string ForgedIPv4 = "10.213.0.99";
    public const string ForgedIPv6 = "fd00:213::99";

    public static ImmutableArray<string> Filters { get; } = [CleanTraffic, DualStack, Seed];

    public sealed record MatrixCase(string Name, Func<LabVm, LabVm, string> Frame, bool OwnTraffic = false);

    private delegate string Base(LabVm sender, LabVm observer);

    private static readonly (string Name, Base Frame, bool Own)[] BaseCases =
    [
        ("own IPv4 ping", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x0800, V4.Ping(s.IPv4, o.IPv4)), true),
        ("own neighbour advertisement", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Na(s.IPv6, o.IPv6, s.IPv6, s.Mac)), true),
        ("own neighbour solicitation", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Ns(s.IPv6, o.IPv6, o.IPv6, s.Mac)), true),
        ("own neighbour advertisement without option", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Icmp(s.IPv6, o.IPv6, 136, "60000000" + V6.Hex(s.IPv6))), true),
        ("forged source MAC", (s, o) => Frames.Ethernet(o.Mac, ForgedMac, 0x0800, V4.Ping(s.IPv4, o.IPv4)), false),
        ("forged IPv4 source", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x0800, V4.Ping(ForgedIPv4, o.IPv4)), false),
        ("forged IPv6 source", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Packet(ForgedIPv6, o.IPv6, 17, V6.UdpPayload(40000, 40001))), false),
        ("ARP with forged sender IP", (s, o) => Frames.ArpRequest(s.Mac, s.Mac, ForgedIPv4, o.IPv4), false),
        ("ARP with forged sender MAC", (s, o) => Frames.ArpRequest(s.Mac, ForgedMac, s.IPv4, o.IPv4), false),
        ("RARP with forged sender", (s, o) => Frames.Arp(s.Mac, 3, ForgedMac, ForgedIPv4, ForgedMac, "0.0.0.0", 0x8035), false),
        ("NA with forged target", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Na(s.IPv6, o.IPv6, ForgedIPv6, s.Mac)), false),
        ("NA with forged target link-layer address", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Na(s.IPv6, o.IPv6, s.IPv6, ForgedMac)), false),
        ("NS with forged source link-layer address", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Ns(s.IPv6, o.IPv6, o.IPv6, ForgedMac)), false),
        ("NA with forged source address", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Na(ForgedIPv6, o.IPv6, ForgedIPv6, s.Mac)), false),
        ("RA from the VM", (s, o) => Frames.Ethernet("33:33:00:00:00:01", s.Mac, 0x86dd, V6.Icmp(s.IPv6, "ff02::1", 134, "40000708" + "00000000" + "00000000")), false),
        ("redirect from the VM", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Icmp(s.IPv6, o.IPv6, 137, "00000000" + V6.Hex(ForgedIPv6) + V6.Hex(o.IPv6))), false),
        ("DHCPv6 server reply from the VM", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x86dd, V6.Packet(s.IPv6, o.IPv6, 17, V6.UdpPayload(547, 546))), false),
    ];

    /// <summary>Every case: each base case plain, inside an 802.1Q tag and inside 802.1ad + 802.1Q (Q-in-Q), then the odd frames.</summary>
    public static ImmutableArray<MatrixCase> Cases { get; } =
    [
        .. BaseCases.Select(b => new MatrixCase(b.Name, (s, o) => b.Frame(s, o), b.Own)),
        .. BaseCases.Select(b => new MatrixCase("802.1Q-tagged " + b.Name, (s, o) => Tag(b.Frame(s, o), "8100" + "0064"))),
        .. BaseCases.Select(b => new MatrixCase("802.1ad (Q-in-Q) " + b.Name, (s, o) => Tag(b.Frame(s, o), "88a8" + "00c8" + "8100" + "0064"))),
        new("ethertype 0x88cc (LLDP)", (s, o) => Frames.Ethernet(Frames.Broadcast, s.Mac, 0x88cc, "0207046c6c6470")),
        new("ethertype 0x8863 (PPPoE discovery)", (s, o) => Frames.Ethernet(Frames.Broadcast, s.Mac, 0x8863, "1109000000040101" + "0000")),
        new("ethertype 0x0842 (wake-on-LAN)", (s, o) => Frames.Ethernet(Frames.Broadcast, s.Mac, 0x0842, "ffffffffffff" + string.Concat(Enumerable.Repeat(Frames.Mac(o.Mac), 16)))),
        new("runt frame (16 bytes, unknown ethertype)", (s, o) => Frames.Mac(Frames.Broadcast) + Frames.Mac(s.Mac) + "88b5" + "abcd"),
        new("jumbo frame (9000 bytes) with forged IPv4 source", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x0800, V4.Udp(ForgedIPv4, o.IPv4, 9000 - 14 - 28))),
        new("jumbo frame (9000 bytes, unknown ethertype)", (s, o) => Frames.Ethernet(o.Mac, s.Mac, 0x88b5, new string('a', 2 * (9000 - 14)))),
    ];

    /// <summary>
    /// The passes of the matrix that are not own traffic: where a backend cannot test what the filter asks, the frame
    /// arrives and the row says so. None remain: ebtables' ip6 match stops at the ICMPv6 type, but the NDP guard's
    /// layer-3 half (nwfilter-no-ndp-spoofing-l3: ip6tables with u32 through br_netfilter) drops the NDP forgeries
    /// that the ebtables rules let pass (about_NwFilter, libvirt-differences.md). clean-traffic and test-eth0 keep
    /// libvirt's semantics: they drop all IPv6.
    /// </summary>
    public static readonly ImmutableDictionary<(FirewallBackendKind, string, string), string> KnownPasses =
        ImmutableDictionary<(FirewallBackendKind, string, string), string>.Empty;

    public static SpoofExpectation Expected(FirewallBackendKind backend, string filter, string caseName)
    {
        if (KnownPasses.TryGetValue((backend, filter, caseName), out var why))
        {
            return new(true, $"arrives ({why})");
        }
        return caseName switch
        {
            "own IPv4 ping" => new(true, "arrives (own traffic)"),
            "own neighbour advertisement" or "own neighbour solicitation" or "own neighbour advertisement without option" when filter == DualStack =>
                new(true, "arrives (own traffic)"),
            "own neighbour advertisement" or "own neighbour solicitation" or "own neighbour advertisement without option" =>
                new(false, "dropped (the filter allows no IPv6)"),
            _ => new(false, "dropped"),
        };
    }

    /// <summary>The frame with a tag (or two) put in after the MAC addresses.</summary>
    private static string Tag(string frame, string tagHex) => frame[..24] + tagHex + frame[24..];

    internal static class V4
    {
        private static string Header(string source, string destination, int protocol, int payloadLength)
        {
            var header = "4500" + (20 + payloadLength).ToString("x4", CultureInfo.InvariantCulture) + "1234" + "0000" + "40"
                + protocol.ToString("x2", CultureInfo.InvariantCulture) + "0000" + Frames.Ip(source) + Frames.Ip(destination);
            return header[..20] + Checksum(Convert.FromHexString(header)) + header[24..];
        }

        /// <summary>An ICMP echo request (checksums computed: conntrack checks them on the iptables path).</summary>
        public static string Ping(string source, string destination)
        {
            var icmp = "0800" + "0000" + "4e46" + "0001" + "6e7766696c746572";
            icmp = icmp[..4] + Checksum(Convert.FromHexString(icmp)) + icmp[8..];
            return Header(source, destination, 1, icmp.Length / 2) + icmp;
        }

        /// <summary>A UDP datagram from port 40000 to 40001 with <paramref name="payloadBytes"/> bytes of payload (UDP checksum 0: none).</summary>
        public static string Udp(string source, string destination, int payloadBytes = 0) =>
            Header(source, destination, 17, 8 + payloadBytes) + "9c409c41" + (8 + payloadBytes).ToString("x4", CultureInfo.InvariantCulture) + "0000"
            + new string('0', 2 * payloadBytes);
    }

    internal static class V6
    {
        public static string Hex(string address) => Convert.ToHexString(IPAddress.Parse(address).GetAddressBytes()).ToLowerInvariant();

        /// <summary>An IPv6 header with hop limit 255 and the given next header and payload.</summary>
        public static string Packet(string source, string destination, int nextHeader, string payloadHex) =>
            "60000000" + (payloadHex.Length / 2).ToString("x4", CultureInfo.InvariantCulture) + nextHeader.ToString("x2", CultureInfo.InvariantCulture) + "ff"
            + Hex(source) + Hex(destination) + payloadHex;

        /// <summary>An IPv6 packet carrying an ICMPv6 message with its checksum computed over the pseudo-header.</summary>
        public static string Icmp(string source, string destination, int type, string bodyHex)
        {
            var message = type.ToString("x2", CultureInfo.InvariantCulture) + "00" + "0000" + bodyHex;
            var pseudo = Hex(source) + Hex(destination) + (message.Length / 2).ToString("x8", CultureInfo.InvariantCulture) + "0000003a" + message;
            message = message[..4] + Checksum(Convert.FromHexString(pseudo)) + message[8..];
            return Packet(source, destination, 58, message);
        }

        /// <summary>A solicited neighbour advertisement for <paramref name="target"/> with a target link-layer address option.</summary>
        public static string Na(string source, string destination, string target, string lladdr) =>
            Icmp(source, destination, 136, "60000000" + Hex(target) + "0201" + Frames.Mac(lladdr));

        /// <summary>A neighbour solicitation for <paramref name="target"/> with a source link-layer address option.</summary>
        public static string Ns(string source, string destination, string target, string lladdr) =>
            Icmp(source, destination, 135, "00000000" + Hex(target) + "0101" + Frames.Mac(lladdr));

        public static string UdpPayload(int sourcePort, int destinationPort) =>
            sourcePort.ToString("x4", CultureInfo.InvariantCulture) + destinationPort.ToString("x4", CultureInfo.InvariantCulture) + "000c" + "0000" + "deadbeef";
    }

    /// <summary>The Internet checksum of the bytes, as four hex digits.</summary>
    private static string Checksum(byte[] bytes)
    {
        long sum = 0;
        for (var i = 0; i < bytes.Length; i += 2)
        {
            sum += (bytes[i] << 8) | (i + 1 < bytes.Length ? bytes[i + 1] : 0);
        }
        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return ((int)(~sum & 0xffff)).ToString("x4", CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// The lab of one backend, built once for all rows: binds the three filters, raises every MTU to 9000 (for the jumbo
/// rows), captures everything vm4 receives into a pcap file while each sender sends its whole batch, then answers
/// per row whether the frame arrived, by exact bytes.
/// </summary>
public abstract class SpoofMatrixLab : IDisposable
{
    private const int Observer = 4, Control = 3;
    private readonly BindingLab? _lab;
    private readonly Dictionary<(string Filter, string Case), (bool Arrived, bool ControlArrived)> _outcomes = [];
    private readonly Exception? _failure;

    protected SpoofMatrixLab(FirewallBackendKind backend)
    {
        Backend = backend;
        if (LabPrerequisites.Reason is not null)
        {
            return;
        }
        try
        {
            _lab = BindingLab.Create(5, backend);
            var vms = _lab.Vms;
            _lab.Apply(
                BindingLab.Binding(vms[0], SpoofMatrix.CleanTraffic, ("IP", vms[0].IPv4)),
                BindingLab.Binding(vms[1], SpoofMatrix.DualStack, ("IP", vms[1].IPv4), ("IPV6", vms[1].IPv6)),
                BindingLab.Binding(vms[2], SpoofMatrix.Seed, ("IP", vms[2].IPv4)));
            Run();
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    public FirewallBackendKind Backend { get; }

    /// <summary>How many frames the observer captured in all (for failure messages).</summary>
    public int CapturedFrames { get; private set; }

    /// <summary>What tcpdump said while capturing (for failure messages).</summary>
    public string CaptureLog { get; private set; } = "";

    public (bool Arrived, bool ControlArrived) Outcome(string filter, string caseName)
    {
        LabPrerequisites.Require();
        if (_failure is not null)
        {
            throw new InvalidOperationException($"the {Backend} spoof matrix lab failed", _failure);
        }
        return _outcomes[(filter, caseName)];
    }

    /// <summary>
    /// The dual-stack VM's own traffic: IPv4 and IPv6 pings both ways, with both neighbour caches flushed first, so the
    /// kernel's own neighbour solicitations and advertisements must pass the NDP guard. On ebiptables the guard's
    /// layer-3 return rules (ip6tables u32, nwfilter-no-ndp-spoofing-l3) must have counted them: the honest messages
    /// passed by matching the u32 tests, not by missing every rule.
    /// </summary>
    public void CheckOwnTraffic()
    {
        LabPrerequisites.Require();
        if (_failure is not null)
        {
            throw new InvalidOperationException($"the {Backend} spoof matrix lab failed", _failure);
        }
        var (vm1, observer) = (_lab!.Vms[1], _lab.Vms[Observer]);
        Assert.True(_lab.Lab.Ping(vm1.Namespace, observer.IPv4, timeout: TimeSpan.FromSeconds(3)), "IPv4 ping");
        foreach (var vm in new[] { vm1, observer })
        {
            _lab.Lab.Run(vm.Namespace, "ip", "-6", "neigh", "flush", "all").EnsureSuccess();
        }
        Assert.True(_lab.Lab.Ping(vm1.Namespace, observer.IPv6, timeout: TimeSpan.FromSeconds(3)), "IPv6 ping");
        Assert.True(_lab.Lab.Ping(observer.Namespace, vm1.IPv6, timeout: TimeSpan.FromSeconds(3)), "IPv6 ping towards the VM");
        if (Backend == FirewallBackendKind.EbIpTables)
        {
            var save = _lab.Lab.RunInHostChecked("ip6tables-save", "-c").StandardOutput.Split('\n');
            foreach (var type in new[] { 135, 136 })
            {
                var counted = save.Where(l => l.Contains($"-A FI-{vm1.PortDevice} ", StringComparison.Ordinal)
                        && l.Contains($"--icmpv6-type {type} -m u32", StringComparison.Ordinal) && l.EndsWith("-j RETURN", StringComparison.Ordinal))
                    .Sum(l => long.Parse(l[1..l.IndexOf(':', StringComparison.Ordinal)], CultureInfo.InvariantCulture));
                Assert.True(counted > 0, $"no ICMPv6 type {type} from {vm1.PortDevice} matched a u32 return rule:\n{string.Join('\n', save.Where(l => l.Contains(vm1.PortDevice, StringComparison.Ordinal)))}");
            }
        }
    }

    private void Run()
    {
        var lab = _lab!;
        var vms = lab.Vms;
        lab.Lab.RunInHostChecked("ip", "link", "set", NetnsLab.BridgeName, "mtu", "9000");
        foreach (var vm in vms)
        {
            lab.Lab.RunInHostChecked("ip", "link", "set", vm.PortDevice, "mtu", "9000");
            lab.Lab.Run(vm.Namespace, "ip", "link", "set", vm.Interface, "mtu", "9000").EnsureSuccess();
        }
        var observer = vms[Observer];
        var senders = new (int Vm, string Filter)[] { (0, SpoofMatrix.CleanTraffic), (1, SpoofMatrix.DualStack), (2, SpoofMatrix.Seed) };
        var frames = new Dictionary<(int Vm, string Case), string>();
        foreach (var vm in senders.Select(s => s.Vm).Append(Control))
        {
            foreach (var c in SpoofMatrix.Cases)
            {
                frames[(vm, c.Name)] = c.Frame(vms[vm], observer);
            }
        }
        var duplicates = frames.GroupBy(f => f.Value, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => string.Join(", ", g.Select(f => f.Key))).ToList();
        if (duplicates.Count > 0)
        {
            throw new InvalidOperationException("frames of the matrix are not told apart: " + string.Join("; ", duplicates));
        }

        var pcap = Path.Combine(Path.GetTempPath(), $"nwfilter-spoof-{lab.Lab.Id}-{Backend}.pcap");
        try
        {
            using (var capture = lab.Lab.StartBackground(observer.Namespace, "tcpdump", "-i", observer.Interface, "-nn", "-p", "--immediate-mode", "-U", "-s", "0", "-w", pcap))
            {
                capture.WaitForError("listening on", TimeSpan.FromSeconds(5));
                foreach (var vm in senders.Select(s => s.Vm).Append(Control))
                {
                    lab.Lab.SendFrames(vms[vm], SpoofMatrix.Cases.Select(c => frames[(vm, c.Name)]));
                    Thread.Sleep(100);
                }
                Thread.Sleep(500);
                CaptureLog = capture.Error;
            }
            var seen = ReadPcap(pcap);
            CapturedFrames = seen.Count;
            foreach (var (vm, filter) in senders)
            {
                foreach (var c in SpoofMatrix.Cases)
                {
                    _outcomes[(filter, c.Name)] = (Seen(seen, frames[(vm, c.Name)]), Seen(seen, frames[(Control, c.Name)]));
                }
            }
        }
        finally
        {
            if (Environment.GetEnvironmentVariable("NWFILTER_KEEP_PCAP") is not { Length: > 0 })
            {
                File.Delete(pcap);
            }
        }
    }

    /// <summary>
    /// A sent frame arrived when a captured frame has the same bytes, give or take trailing zeros: the sender pads to
    /// Ethernet's 60 bytes, and br_netfilter trims an IP packet's padding on the way.
    /// </summary>
    private static bool Seen(List<byte[]> captured, string frameHex)
    {
        var sent = Convert.FromHexString(frameHex);
        return captured.Any(c =>
        {
            var n = Math.Min(c.Length, sent.Length);
            return n >= 14 && c.AsSpan(0, n).SequenceEqual(sent.AsSpan(0, n))
                && !c.AsSpan(n).ContainsAnyExcept((byte)0) && !sent.AsSpan(n).ContainsAnyExcept((byte)0);
        });
    }

    /// <summary>The frames of a pcap file (microsecond or nanosecond, either byte order).</summary>
    private static List<byte[]> ReadPcap(string path)
    {
        var data = File.ReadAllBytes(path);
        var frames = new List<byte[]>();
        if (data.Length < 24)
        {
            return frames;
        }
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(data);
        var little = magic is 0xa1b2c3d4 or 0xa1b23c4d;
        uint U32(int at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
        for (var at = 24; at + 16 <= data.Length;)
        {
            var length = (int)U32(at + 8);
            if (at + 16 + length > data.Length)
            {
                break; // a record cut off when tcpdump was stopped
            }
            frames.Add(data.AsSpan(at + 16, length).ToArray());
            at += 16 + length;
        }
        return frames;
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
}
