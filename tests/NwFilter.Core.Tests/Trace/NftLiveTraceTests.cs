using System.Net;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Trace;
using NwFilter.Core.Trace.Kernel;

namespace NwFilter.Core.Tests.Trace;

/// <summary>
/// The live trace on the nftables backend, on the real kernel: the kernel's trace events of a port's packets map back
/// to the rule instances, the live verdict equals the simulated one and the packet's real fate, and no trace rule is
/// left behind, not even by a trace that was never closed (the next start removes it).
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class NftLiveTraceTests
{
    private const string ForgedIp = "10.213.0.99";

    private static string Tables(BindingLab lab) => lab.Lab.RunInHostChecked("nft", "list", "tables").StandardOutput;

    [SkippableFact]
    public async Task ALiveTraceOfAForgedAndAnHonestPingAgreesWithTheSimulationAndTheRealFate()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(3, FirewallBackendKind.Nftables);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        var binding = BindingLab.CleanTraffic(vm0);
        lab.Apply(binding);
        var resolution = FilterResolver.Resolve(lab.Filters, binding.Filter, binding.Parameters, binding.MacAddress);

        List<TraceStep> forgedSteps, honestSteps;
        bool forgedArrived, honestArrived;
        await using (var trace = await NftLiveTrace.StartAsync(lab.Lab.HostNamespace, vm0.PortDevice, resolution.Instances))
        {
            Assert.Contains("table bridge nwfilter-trace", Tables(lab), StringComparison.Ordinal);
            var reading = Collect(trace, TimeSpan.FromSeconds(4));
            forgedArrived = lab.Lab.SpoofedIPv4Arrives(vm0, vm1, ForgedIp);
            forgedSteps = await reading;

            reading = Collect(trace, TimeSpan.FromSeconds(4));
            honestArrived = lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3));
            honestSteps = await reading;
        }
        Assert.DoesNotContain("nwfilter-trace", Tables(lab), StringComparison.Ordinal);
        Assert.True(lab.Lab.SpoofedIPv4Arrives(vm2, vm1, "10.213.0.98"), "control: the forgery from the unfiltered VM arrives");

        // The forged ping: the kernel dropped it in no-ip-spoofing's rule, as the simulation says, and it did not arrive.
        Assert.False(forgedArrived);
        // ping -c 2: each echo request is one traced packet dropped there.
        var drops = forgedSteps.Where(s => s.Kind == TraceStepKind.Decision && s.Verdict == TraceVerdict.Drop && s.Filter == "no-ip-spoofing").ToList();
        Assert.InRange(drops.Count, 1, 2);
        var drop = drops[0];
        Assert.Equal(ForgedIp, drop.Subject?.SourceAddress?.ToString());
        Assert.Equal(vm1.IPv4, drop.Subject?.DestinationAddress?.ToString());
        var simulated = PacketTracer.Trace(resolution, TracePacketBuilder.Build(
            new() { Protocol = "icmp", SourceAddress = ForgedIp, DestinationAddress = vm1.IPv4, DestinationMac = vm1.Mac }, binding.MacAddress, [IPAddress.Parse(vm0.IPv4)]));
        Assert.Equal(drop.Verdict, simulated.Verdict);
        Assert.Equal(drop.Filter, simulated.Decision.Filter);
        Assert.Equal(drop.Priority, simulated.Decision.Priority);
        Assert.Equal(simulated.Decision.Rule, drop.Rule);
        Assert.Equal(simulated.Decision.Chain, drop.Chain);

        // The honest ping: its echo request (I, through no-ip-spoofing) and its reply (O, through allow-incoming-ipv4)
        // each end in an Accept decision, as simulated. Other frames to the VM in that window (IPv6 neighbour discovery
        // and multicast from the lab) are dropped by no-other-l2-traffic in O: so says the simulation of such a frame.
        Assert.True(honestArrived);
        var packets = honestSteps.GroupBy(s => s.Packet).Select(g => g.ToList()).ToList();
        Assert.Contains(packets, p => p[^1].Verdict == TraceVerdict.Accept && p.Any(s => s.Filter == "no-ip-spoofing" && s.Chain == "I-ipv4-ip"));
        Assert.Contains(packets, p => p[^1].Verdict == TraceVerdict.Accept && p.Any(s => s.Filter == "allow-incoming-ipv4" && s.Chain == "O-ipv4"));
        Assert.Equal(TraceVerdict.Accept, PacketTracer.Trace(resolution, TracePacketBuilder.Build(
            new() { Protocol = "icmp", DestinationAddress = vm1.IPv4, DestinationMac = vm1.Mac }, binding.MacAddress, [IPAddress.Parse(vm0.IPv4)])).Verdict);
        TraceResult Ipv6(TraceDirection direction) => PacketTracer.Trace(resolution, TracePacketBuilder.Build(
            new() { Direction = direction, Protocol = "icmpv6", IcmpType = 135, SourceAddress = "fe80::1", DestinationAddress = "ff02::1:ff00:10", DestinationMac = "33:33:ff:00:00:10" },
            binding.MacAddress, [IPAddress.Parse(vm0.IPv4)]));
        var (v6In, v6Out) = (Ipv6(TraceDirection.In), Ipv6(TraceDirection.Out));
        foreach (var dropped in packets.Where(p => p[^1].Verdict == TraceVerdict.Drop).Select(p => p[^1]))
        {
            var v6 = dropped.Chain.StartsWith('I') ? v6Out : v6In;
            Assert.Equal((v6.Verdict, v6.Decision.Filter, v6.Decision.Chain), (dropped.Verdict!.Value, dropped.Filter, dropped.Chain));
        }
    }

    [SkippableFact]
    public async Task AMatchTracesOnlyThePacketsItSelects()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(2, FirewallBackendKind.Nftables);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        var binding = BindingLab.CleanTraffic(vm0);
        lab.Apply(binding);
        var resolution = FilterResolver.Resolve(lab.Filters, binding.Filter, binding.Parameters, binding.MacAddress);
        const int Port = 5391;
        // UDP from the VM to vm1's port: traced; its ping and a UDP packet to another port: not.
        var match = LiveTraceMatch.From(new() { Protocol = "udp", DestinationAddress = vm1.IPv4, DestinationPort = Port },
            new HashSet<string> { "Protocol", "DestinationAddress", "DestinationPort" }, TraceDirection.Out, false);
        List<TraceStep> steps;
        bool pinged, other, selected;
        await using (var trace = await NftLiveTrace.StartAsync(lab.Lab.HostNamespace, vm0.PortDevice, resolution.Instances, match))
        {
            var table = lab.Lab.RunInHostChecked("nft", "list", "table", "bridge", "nwfilter-trace").StandardOutput;
            Assert.Contains($"udp dport {Port}", table, StringComparison.Ordinal);
            Assert.DoesNotContain("oifname", table, StringComparison.Ordinal); // -Direction Out: the to-VM hooks are not traced
            var reading = Collect(trace, TimeSpan.FromSeconds(8));
            pinged = lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3));
            other = lab.Lab.UdpDelivered(vm0.Namespace, vm1.Namespace, vm1.IPv4, Port + 1);
            selected = lab.Lab.UdpDelivered(vm0.Namespace, vm1.Namespace, vm1.IPv4, Port);
            steps = await reading;
        }
        Assert.True(pinged && other && selected, "the three exchanges happened (positive control for what was not traced)");
        var decisions = steps.Where(s => s.Kind == TraceStepKind.Decision).ToList();
        Assert.NotEmpty(decisions);
        Assert.All(decisions, d =>
        {
            Assert.Equal("udp", d.Subject?.Protocol);
            Assert.Equal((ushort?)Port, d.Subject?.DestinationPort);
            Assert.Equal(vm1.IPv4, d.Subject?.DestinationAddress?.ToString());
            Assert.Equal(TraceVerdict.Accept, d.Verdict);
        });
        Assert.DoesNotContain("nwfilter-trace", Tables(lab), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task ATraceNeverClosedLeavesItsTableAndTheNextStartRemovesIt()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(1, FirewallBackendKind.Nftables);
        var vm0 = lab.Vms[0];
        var binding = BindingLab.CleanTraffic(vm0);
        lab.Apply(binding);
        var instances = FilterResolver.Resolve(lab.Filters, binding.Filter, binding.Parameters, binding.MacAddress).Instances;

        // A trace whose process dies: its monitor is gone, nobody removes the table.
        var abandoned = await NftLiveTrace.StartAsync(lab.Lab.HostNamespace, vm0.PortDevice, instances);
        abandoned.KillMonitorForTest();
        Assert.Contains("table bridge nwfilter-trace", Tables(lab), StringComparison.Ordinal);

        await using (var next = await NftLiveTrace.StartAsync(lab.Lab.HostNamespace, vm0.PortDevice, instances))
        {
            // One trace table, the new one (a second 'add table' of the leftover would have kept two chains sets).
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(lab.Lab.RunInHostChecked("nft", "list", "table", "bridge", "nwfilter-trace").StandardOutput, "iifname"));
        }
        Assert.DoesNotContain("nwfilter-trace", Tables(lab), StringComparison.Ordinal);
        Assert.False(await NftLiveTrace.RemoveLeftoversAsync(lab.Lab.HostNamespace), "nothing left to remove");
    }

    private static Task<List<TraceStep>> Collect(NftLiveTrace trace, TimeSpan window) => Task.Run(async () =>
    {
        var steps = new List<TraceStep>();
        await foreach (var step in trace.ReadAsync(int.MaxValue, window))
        {
            steps.Add(step);
        }
        return steps;
    });
}
