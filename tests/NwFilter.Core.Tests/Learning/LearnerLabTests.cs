using NwFilter.Core.Backends.EbIpTables;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Learning;

/// <summary>
/// The learner on the real kernel: libpcap on the VM's port device inside the lab's host namespace, the learning rules
/// applied with ebtables, dnsmasq as the DHCP server and busybox udhcpc as the VM's client.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed partial class LearnerLabTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static IpLearner Learner(NetnsLab lab, LabVm vm, IpLearningMode mode, IAddressSink? sink = null, TimeProvider? clock = null,
        params string[] servers) =>
        new(new IpLearnerOptions(vm.PortDevice, PhysicalAddress.Parse(vm.Mac.ToUpperInvariant().Replace(':', '-')), mode)
        {
            NamespaceName = lab.HostNamespace,
            DhcpServers = [.. servers.Select(IPAddress.Parse)],
        }, sink: sink, clock: clock);

    /// <summary>Runs busybox udhcpc once in the VM (address left unconfigured); returns the leased address.</summary>
    private static string Udhcpc(NetnsLab lab, LabVm vm)
    {
        var result = lab.Run(vm.Namespace, new ProcessRequest("busybox", "udhcpc", "-i", vm.Interface, "-f", "-q", "-n", "-t", "10", "-T", "1", "-s", "/bin/true")
        {
            Timeout = TimeSpan.FromSeconds(30),
        });
        var match = LeaseLine().Match(result.StandardOutput + result.StandardError);
        Assert.True(result.Succeeded && match.Success, $"udhcpc got no lease: {result.StandardOutput}{result.StandardError}");
        return match.Groups[1].Value;
    }

    /// <summary>
    /// Runs busybox udhcpc in the VM until it holds a lease, then stops it with SIGTERM so that it sends DHCPRELEASE
    /// (-R; busybox releases only from the bound state, which -q never reaches). Returns the leased address.
    /// </summary>
    private static string UdhcpcThenRelease(NetnsLab lab, LabVm vm)
    {
        using var client = lab.StartBackground(vm.Namespace, "busybox", "udhcpc", "-i", vm.Interface, "-f", "-R", "-t", "10", "-T", "1", "-s", "/bin/true");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Match match;
        while (!(match = LeaseLine().Match(client.Error + client.Output)).Success)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"udhcpc got no lease: {client.Error}{client.Output}");
            Thread.Sleep(50);
        }
        // The VM's namespace holds only this client; signal it from outside.
        var pids = ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "netns", "pids", vm.Namespace)).GetAwaiter().GetResult();
        foreach (var pid in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            ProcessRunner.Default.RunAsync(new ProcessRequest("kill", "-TERM", pid.Trim())).GetAwaiter().GetResult();
        }
        Assert.True(client.WaitForExit(TimeSpan.FromSeconds(10)), "udhcpc ends on SIGTERM");
        Assert.Contains("sending release", client.Error + client.Output, StringComparison.Ordinal);
        return match.Groups[1].Value;
    }


    [SkippableFact]
    public async Task TheCaptureOpensInsideTheLabNamespaceAndLeavesTheProcessWhereItWas()
    {
        using var lab = NetnsLab.Create(1);
        var vm = lab.Vms[0];
        var before = new FileInfo("/proc/self/ns/net").LinkTarget;

        using (var capture = await PcapFrameSource.Instance.OpenAsync(new CaptureRequest(vm.PortDevice, $"ether src {vm.Mac}") { NamespaceName = lab.HostNamespace }))
        {
            Assert.True(lab.Ping(vm.Namespace, NetnsLab.BridgeIPv4));
            using var timeout = new CancellationTokenSource(Wait);
            var frame = await capture.Frames.ReadAsync(timeout.Token);
            Assert.Equal(vm.Mac, string.Join(':', frame.Data[6..12].Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))));
        }

        Assert.Equal(before, new FileInfo("/proc/self/ns/net").LinkTarget);
        Assert.Equal(before, new FileInfo("/proc/thread-self/ns/net").LinkTarget);

        // The VM's namespace has no vnet0: the device is found only where the request says.
        var error = await Assert.ThrowsAsync<NwFilterException>(() =>
            PcapFrameSource.Instance.OpenAsync(new CaptureRequest(vm.PortDevice, "arp") { NamespaceName = vm.Namespace }));
        Assert.Equal("CaptureOpenFailed", error.Primary.Code);
        Assert.Equal(DiagnosticCategory.ResourceUnavailable, error.Primary.Category);
    }

    [SkippableFact]
    public async Task ManyCapturesAreReadByOneThreadAndEachGetsItsOwnFrames()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        // 24 captures: 12 on each port, each filtering its VM's source MAC.
        var captures = new List<(LabVm Vm, IFrameCapture Capture)>();
        var readBefore = CaptureLoop.Shared.Count;
        try
        {
            foreach (var vm in Enumerable.Repeat(vm0, 12).Concat(Enumerable.Repeat(vm1, 12)))
            {
                captures.Add((vm, await PcapFrameSource.Instance.OpenAsync(new CaptureRequest(vm.PortDevice, $"ether src {vm.Mac}") { NamespaceName = lab.HostNamespace })));
            }
            // The threads that opened them end; one loop thread reads them all.
            var deadline = DateTime.UtcNow + Wait;
            while (ThreadsNamed("nwfilter-pcapop") > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.Equal(0, ThreadsNamed("nwfilter-pcapop"));
            Assert.Equal(1, ThreadsNamed("nwfilter-pcap"));
            Assert.True(CaptureLoop.Shared.Count >= captures.Count);

            Assert.True(lab.Ping(vm0.Namespace, NetnsLab.BridgeIPv4));
            Assert.True(lab.Ping(vm1.Namespace, NetnsLab.BridgeIPv4));
            foreach (var (vm, capture) in captures)
            {
                using var timeout = new CancellationTokenSource(Wait);
                var frame = await capture.Frames.ReadAsync(timeout.Token);
                Assert.Equal(vm.Mac, string.Join(':', frame.Data[6..12].Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))));
            }
        }
        finally
        {
            foreach (var (_, capture) in captures)
            {
                capture.Dispose();
            }
        }
        // Disposed captures are closed: the loop reads none of them any more.
        Assert.Equal(readBefore, CaptureLoop.Shared.Count);
    }

    /// <summary>Threads of this process whose kernel name (15 bytes at most) is <paramref name="name"/>.</summary>
    private static int ThreadsNamed(string name) =>
        Directory.GetDirectories("/proc/self/task").Count(t => File.Exists(Path.Combine(t, "comm")) && File.ReadAllText(Path.Combine(t, "comm")).Trim() == name);

    [SkippableFact]
    public async Task AnyModeLearnsAStaticAddressFromAPlainIPv4PacketBehindTheBasicRules()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        var sink = new RecordingSink();
        LabPlanRunner.Apply(lab, LearningRules.BasicRules(vm0.PortDevice, PhysicalAddress.Parse(vm0.Mac.Replace(':', '-').ToUpperInvariant())));
        Assert.Contains($"-A libvirt-I-vnet0 -s ! {vm0.Mac} -j DROP", lab.RunInHostChecked("ebtables-save").StandardOutput, StringComparison.Ordinal);
        Assert.False(lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"), "the basic rules drop another source MAC");

        await using var learner = Learner(lab, vm0, IpLearningMode.Any, sink);
        await learner.StartAsync();
        // A broadcast ping needs no ARP first: the first frame is a plain IPv4 packet from the VM's static address.
        lab.Run(vm0.Namespace, "ping", "-n", "-q", "-b", "-c", "1", "-W", "1", "10.213.0.255");
        await learner.Completion.WaitAsync(Wait);

        Assert.Equal(IpLearningState.Learned, learner.State);
        var learned = Assert.Single(learner.Addresses);
        Assert.Equal(IPAddress.Parse(vm0.IPv4), learned.Address);
        Assert.Equal(AddressSource.IPv4Packet, learned.Source);
        Assert.Equal([vm0.IPv4], Assert.Single(sink.Changes).IPv4Values.ToArray());
    }

    [SkippableFact]
    public async Task AnyModeLearnsFromArpWhenTheVmFirstResolvesANeighbour()
    {
        using var lab = NetnsLab.Create(1);
        var vm = lab.Vms[0];
        await using var learner = Learner(lab, vm, IpLearningMode.Any);
        await learner.StartAsync();
        lab.Ping(vm.Namespace, NetnsLab.BridgeIPv4);
        await learner.Completion.WaitAsync(Wait);
        var learned = Assert.Single(learner.Addresses);
        Assert.Equal(IPAddress.Parse(vm.IPv4), learned.Address);
        Assert.Equal(AddressSource.Arp, learned.Source);
    }

    [SkippableFact]
    public async Task AnyModeWithIPv6LearnsBothFamiliesFromTheVmsTraffic()
    {
        using var lab = NetnsLab.Create(1);
        var vm = lab.Vms[0];
        var sink = new RecordingSink();
        var options = new IpLearnerOptions(vm.PortDevice, PhysicalAddress.Parse(vm.Mac.Replace(':', '-').ToUpperInvariant()), IpLearningMode.Any)
        {
            NamespaceName = lab.HostNamespace,
            LearnIPv6 = true,
        };
        await using var learner = new IpLearner(options, sink: sink);
        await learner.StartAsync();
        Assert.True(lab.Ping(vm.Namespace, NetnsLab.BridgeIPv6));
        Assert.True(lab.Ping(vm.Namespace, NetnsLab.BridgeIPv4));
        await learner.Completion.WaitAsync(Wait);

        Assert.Equal(IpLearningState.Learned, learner.State);
        var last = sink.Changes.Last();
        Assert.Equal([vm.IPv4], last.IPv4Values.ToArray());
        Assert.Equal([IPAddress.Parse(vm.IPv6).ToString()], last.IPv6Values.ToArray());
    }

    [SkippableFact]
    public async Task DhcpModeLearnsTheLeaseOfDnsmasqThroughTheDhcpOnlyRulesThenExpiresRenewsAndReleasesIt()
    {
        using var lab = NetnsLab.Create(1);
        var vm = lab.Vms[0];
        var mac = PhysicalAddress.Parse(vm.Mac.Replace(':', '-').ToUpperInvariant());
        using var dnsmasq = DnsmasqServer.Start(lab, lab.HostNamespace, NetnsLab.BridgeName, "10.213.0.100", "10.213.0.150", TimeSpan.FromMinutes(2));
        lab.Run(vm.Namespace, "ip", "-4", "addr", "flush", "dev", vm.Interface).EnsureSuccess();
        LabPlanRunner.Apply(lab, LearningRules.DhcpOnlyRules(vm.PortDevice, mac, [IPAddress.Parse(NetnsLab.BridgeIPv4)]));

        var sink = new RecordingSink();
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var learner = Learner(lab, vm, IpLearningMode.Dhcp, sink, clock, NetnsLab.BridgeIPv4);
        await learner.StartAsync();

        var leased = Udhcpc(lab, vm);
        Assert.Equal(leased, dnsmasq.AckedAddress(vm.Mac));
        var learned = await LearnerEvents.Next<AddressLearned>(learner, Wait);
        Assert.Equal(IPAddress.Parse(leased), learned.Address.Address);
        Assert.Equal(AddressSource.Dhcp, learned.Address.Source);
        Assert.Equal(IPAddress.Parse(NetnsLab.BridgeIPv4), learned.Address.Server);
        Assert.Equal(clock.GetUtcNow().AddMinutes(2), learned.Address.Expires);
        Assert.Equal(IpLearningState.Learned, learner.State);

        // The lease runs out on the learner's clock (dnsmasq's shortest lease is two minutes).
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(IPAddress.Parse(leased), (await LearnerEvents.Next<LeaseExpired>(learner, Wait)).Address.Address);
        Assert.Equal(IpLearningState.Learning, learner.State);

        // The VM takes the address and asks again, releasing on exit: learned anew, then released. The release is
        // unicast from the address; the DHCP-only rules drop ARP, so the VM is told the server's MAC beforehand.
        var bridgeMac = BridgeMac().Match(lab.RunInHostChecked("ip", "-o", "link", "show", NetnsLab.BridgeName).StandardOutput).Groups[1].Value;
        lab.Run(vm.Namespace, "ip", "addr", "add", leased + "/24", "dev", vm.Interface).EnsureSuccess();
        lab.Run(vm.Namespace, "ip", "neigh", "replace", NetnsLab.BridgeIPv4, "lladdr", bridgeMac, "dev", vm.Interface, "nud", "permanent").EnsureSuccess();
        Assert.Equal(leased, UdhcpcThenRelease(lab, vm));
        Assert.Equal(IPAddress.Parse(leased), (await LearnerEvents.Next<AddressLearned>(learner, Wait)).Address.Address);
        var released = await LearnerEvents.Next<LeaseReleased>(learner, Wait);
        Assert.Equal(LeaseEndReason.Released, released.Reason);
        Assert.Equal(IpLearningState.Learning, learner.State);
        Assert.Equal([leased, leased, ""], sink.Changes.Where(c => c.Cause is not LeaseExpired).Select(c => string.Join(',', c.IPv4Values)));
    }

    [SkippableFact]
    public async Task ARogueDhcpServerIsNotBelievedAndTheDhcpOnlyRulesKeepItsRepliesFromTheVm()
    {
        using var lab = NetnsLab.Create(2);
        var (vm, rogueVm) = (lab.Vms[0], lab.Vms[1]);
        var mac = PhysicalAddress.Parse(vm.Mac.Replace(':', '-').ToUpperInvariant());
        lab.Run(vm.Namespace, "ip", "-4", "addr", "flush", "dev", vm.Interface).EnsureSuccess();
        using var rogue = DnsmasqServer.Start(lab, rogueVm.Namespace, rogueVm.Interface, "10.213.0.200", "10.213.0.250");

        // Without rules, only the rogue answers: the VM takes its lease, the learner does not.
        await using (var learner = Learner(lab, vm, IpLearningMode.Dhcp, servers: NetnsLab.BridgeIPv4))
        {
            await learner.StartAsync();
            var rogueLease = Udhcpc(lab, vm);
            Assert.StartsWith("10.213.0.2", rogueLease, StringComparison.Ordinal);
            await Task.Delay(500);
            Assert.True(learner.FramesSeen > 0, "the learner saw the exchange");
            Assert.Empty(learner.Addresses);
            Assert.Equal(IpLearningState.Learning, learner.State);
        }

        // With the real server and the DHCP-only rules naming it, the VM only hears the real server.
        using var dnsmasq = DnsmasqServer.Start(lab, lab.HostNamespace, NetnsLab.BridgeName, "10.213.0.100", "10.213.0.150");
        LabPlanRunner.Apply(lab, LearningRules.DhcpOnlyRules(vm.PortDevice, mac, [IPAddress.Parse(NetnsLab.BridgeIPv4)]));
        await using var guarded = Learner(lab, vm, IpLearningMode.Dhcp, servers: NetnsLab.BridgeIPv4);
        await guarded.StartAsync();
        var leased = Udhcpc(lab, vm);
        Assert.StartsWith("10.213.0.1", leased, StringComparison.Ordinal);
        Assert.Equal(IPAddress.Parse(leased), (await LearnerEvents.Next<AddressLearned>(guarded, Wait)).Address.Address);
        Assert.Equal([leased], guarded.Addresses.Select(a => a.Address.ToString()));
    }

    [GeneratedRegex(@"link/ether ([0-9a-f:]{17})")]
    private static partial Regex BridgeMac();

    [GeneratedRegex(@"lease of ([0-9.]+) obtained")]
    private static partial Regex LeaseLine();
}
