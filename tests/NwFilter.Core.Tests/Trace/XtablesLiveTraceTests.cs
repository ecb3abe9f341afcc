using System.Net;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Trace;
using NwFilter.Core.Trace.Kernel;

namespace NwFilter.Core.Tests.Trace;

/// <summary>
/// The live trace on the EbIpTables backend (the nft-based ebtables/iptables tools), on the real kernel: the kernel's
/// trace events of libvirt's byte-exact rules (no comments) map back to the rule instances by chain and handle, at the
/// Ethernet layer (ebtables) and at the IP layer (iptables through br_netfilter); the live verdict equals the simulated
/// one and the packet's real fate; the filtering tables are not changed; no trace table is left behind.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class XtablesLiveTraceTests
{
    private const string ForgedIp = "10.213.0.99";

    private static string Tables(BindingLab lab) => lab.Lab.RunInHostChecked("nft", "list", "tables").StandardOutput;

    /// <summary>libvirt's rules as the save tools print them, without the built-in chains' policy counters (traffic moves them).</summary>
    private static string Rules(BindingLab lab) => System.Text.RegularExpressions.Regex.Replace(lab.Save(), @" \[\d+:\d+\]", "");

    private static Ruleset Compiled(BindingLab lab, FilterBinding binding) =>
        RulesetBuilder.Build(lab.Filters, binding.Filter, binding.PortDevice, binding.MacAddress, binding.Parameters, FirewallBackendKind.EbIpTables);

    private static Task<NftLiveTrace> Start(BindingLab lab, FilterBinding binding, LiveTraceMatch? match = null) =>
        NftLiveTrace.StartAsync(lab.Lab.HostNamespace, binding.PortDevice, Compiled(lab, binding), FirewallBackendKind.EbIpTables, match ?? LiveTraceMatch.All);

    [SkippableFact]
    public async Task ALiveTraceOfAForgedAndAnHonestPingAgreesWithTheSimulationAndTheRealFate()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(3, FirewallBackendKind.EbIpTables);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        var binding = BindingLab.CleanTraffic(vm0);
        lab.Apply(binding);
        var resolution = FilterResolver.Resolve(lab.Filters, binding.Filter, binding.Parameters, binding.MacAddress);
        var before = Rules(lab);

        List<TraceStep> forgedSteps, honestSteps;
        bool forgedArrived, honestArrived;
        await using (var trace = await Start(lab, binding))
        {
            Assert.Contains("table bridge nwfilter-trace", Tables(lab), StringComparison.Ordinal);
            // The trace adds nothing to libvirt's tables (they stay byte-exact).
            Assert.Equal(before, Rules(lab));
            var reading = Collect(trace, TimeSpan.FromSeconds(4));
            forgedArrived = lab.Lab.SpoofedIPv4Arrives(vm0, vm1, ForgedIp);
            forgedSteps = await reading;

            reading = Collect(trace, TimeSpan.FromSeconds(4));
            honestArrived = lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3));
            honestSteps = await reading;
        }
        Assert.DoesNotContain("nwfilter-trace", Tables(lab), StringComparison.Ordinal);
        Assert.True(lab.Lab.SpoofedIPv4Arrives(vm2, vm1, "10.213.0.98"), "control: the forgery from the unfiltered VM arrives");

        // The forged ping: ebtables dropped it in no-ip-spoofing's rule, as the simulation says, and it did not arrive.
        Assert.False(forgedArrived);
        var drops = forgedSteps.Where(s => s.Kind == TraceStepKind.Decision && s.Verdict == TraceVerdict.Drop && s.Filter == "no-ip-spoofing").ToList();
        Assert.True(drops.Count is >= 1 and <= 2, Dump(forgedSteps));
        var drop = drops[0];
        Assert.Equal(ForgedIp, drop.Subject?.SourceAddress?.ToString());
        Assert.Equal(vm1.IPv4, drop.Subject?.DestinationAddress?.ToString());
        var simulated = PacketTracer.Trace(resolution, TracePacketBuilder.Build(
            new() { Protocol = "icmp", SourceAddress = ForgedIp, DestinationAddress = vm1.IPv4, DestinationMac = vm1.Mac }, binding.MacAddress, [IPAddress.Parse(vm0.IPv4)]));
        Assert.Equal(simulated.Verdict, drop.Verdict);
        Assert.Equal(simulated.Decision.Filter, drop.Filter);
        Assert.Equal(simulated.Decision.Priority, drop.Priority);
        Assert.Equal(simulated.Decision.Rule, drop.Rule);
        Assert.Equal(simulated.Decision.Chain, drop.Chain);
        Assert.Equal(TraceDirection.Out, drop.PacketDirection);
        // The rule step before the decision names the kernel rule: ebtables' chain, its position and handle.
        Assert.Contains(forgedSteps, s => s.Kind == TraceStepKind.Rule && s.Packet == drop.Packet && s.Verdict == TraceVerdict.Drop
            && s.Reason.Contains("bridge nat I-" + vm0.PortDevice + "-ipv4-ip rule ", StringComparison.Ordinal) && s.Rule == drop.Rule);

        // The honest ping: its echo request (I-ipv4-ip, through no-ip-spoofing) and its reply (O-ipv4, through
        // allow-incoming-ipv4) each end in an Accept decision, as simulated.
        Assert.True(honestArrived);
        var packets = honestSteps.GroupBy(s => s.Packet).Select(g => g.ToList()).ToList();
        Assert.True(packets.Any(p => p[^1].Verdict == TraceVerdict.Accept && p.Any(s => s.Filter == "no-ip-spoofing" && s.Chain == "I-ipv4-ip")), Dump(honestSteps));
        Assert.True(packets.Any(p => p[^1].Verdict == TraceVerdict.Accept && p.Any(s => s.Filter == "allow-incoming-ipv4" && s.Chain == "O-ipv4")), Dump(honestSteps));
        Assert.Equal(TraceVerdict.Accept, PacketTracer.Trace(resolution, TracePacketBuilder.Build(
            new() { Protocol = "icmp", DestinationAddress = vm1.IPv4, DestinationMac = vm1.Mac }, binding.MacAddress, [IPAddress.Parse(vm0.IPv4)])).Verdict);
    }

    [SkippableFact]
    public async Task AnIptablesDropOfTestEth0IsMappedToItsRuleAndAnAllowedConnectionPasses()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(3, FirewallBackendKind.EbIpTables);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        var binding = BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4));
        lab.Apply(binding);
        var resolution = FilterResolver.Resolve(lab.Filters, binding.Filter, binding.Parameters, binding.MacAddress);
        // TCP to the VM only (the SYN to port 8080 and the SYN to port 22 with their retries and replies).
        var match = LiveTraceMatch.From(new() { Direction = TraceDirection.In, Protocol = "tcp" }, new HashSet<string> { "Protocol", "Direction" }, TraceDirection.In, false);

        List<TraceStep> droppedSteps, allowedSteps;
        bool dropped8080, allowed22;
        await using (var trace = await Start(lab, binding, match))
        {
            var reading = Collect(trace, TimeSpan.FromSeconds(4));
            dropped8080 = lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080, TimeSpan.FromSeconds(1));
            droppedSteps = await reading;

            reading = Collect(trace, TimeSpan.FromSeconds(4));
            allowed22 = lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 22);
            allowedSteps = await reading;
        }
        Assert.DoesNotContain("nwfilter-trace", Tables(lab), StringComparison.Ordinal);
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm2.Namespace, vm2.IPv4, 8080), "control: vm1 reaches the unfiltered vm2 on 8080");

        // Port 8080: iptables (FO, through br_netfilter) dropped the SYN in test-eth0's last rule, as simulated.
        Assert.False(dropped8080);
        var drop = droppedSteps.FirstOrDefault(s => s.Kind == TraceStepKind.Decision && s.Verdict == TraceVerdict.Drop);
        Assert.True(drop is not null, Dump(droppedSteps));
        Assert.Equal((ushort?)8080, drop.Subject?.DestinationPort);
        var simulated = PacketTracer.Trace(resolution, TracePacketBuilder.Build(
            new() { Direction = TraceDirection.In, Protocol = "tcp", SourceMac = vm1.Mac, SourceAddress = vm1.IPv4, DestinationPort = 8080 }, binding.MacAddress, [IPAddress.Parse(vm0.IPv4)]));
        Assert.Equal(TraceVerdict.Drop, simulated.Verdict);
        Assert.Equal((simulated.Decision.Filter, simulated.Decision.Priority, simulated.Decision.Chain, simulated.Decision.Rule),
            (drop.Filter, drop.Priority, drop.Chain, drop.Rule));
        Assert.Equal("FO", drop.Chain);
        Assert.Contains(droppedSteps, s => s.Kind == TraceStepKind.Rule && s.Packet == drop.Packet && s.Verdict == TraceVerdict.Drop
            && s.Reason.Contains("ip filter FO-" + vm0.PortDevice + " rule ", StringComparison.Ordinal) && s.Rule == drop.Rule);

        // Port 22: the SYN passes, through test-eth0's accept rule for port 22 in FO.
        Assert.True(allowed22);
        var packets = allowedSteps.GroupBy(s => s.Packet).Select(g => g.ToList()).ToList();
        Assert.True(packets.Any(p => p[^1].Kind == TraceStepKind.Decision && p[^1].Verdict == TraceVerdict.Accept
            && p.Any(s => s.Kind == TraceStepKind.Rule && s.Filter == "test-eth0" && s.Chain == "FO" && s.Rule!.Contains("dstportstart='22'", StringComparison.Ordinal))),
            Dump(allowedSteps));
        Assert.DoesNotContain(allowedSteps, s => s.Kind == TraceStepKind.Decision && s.Verdict == TraceVerdict.Drop);
    }

    [SkippableFact]
    public async Task ATraceNeverClosedLeavesItsTableAndTheNextStartRemovesIt()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(1, FirewallBackendKind.EbIpTables);
        var vm0 = lab.Vms[0];
        var binding = BindingLab.CleanTraffic(vm0);
        lab.Apply(binding);
        var before = Rules(lab);

        var abandoned = await Start(lab, binding);
        abandoned.KillMonitorForTest();
        Assert.Contains("table bridge nwfilter-trace", Tables(lab), StringComparison.Ordinal);

        await using (var next = await Start(lab, binding))
        {
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(lab.Lab.RunInHostChecked("nft", "list", "table", "bridge", "nwfilter-trace").StandardOutput, "iifname"));
        }
        Assert.DoesNotContain("nwfilter-trace", Tables(lab), StringComparison.Ordinal);
        Assert.False(await NftLiveTrace.RemoveLeftoversAsync(lab.Lab.HostNamespace), "nothing left to remove");
        Assert.Equal(before, Rules(lab));
    }

    private static string Dump(IEnumerable<TraceStep> steps) =>
        string.Join('\n', steps.Select(s => $"{s.Packet} {s.Kind} {s.Chain} {s.Verdict} {s.Filter} {s.Priority} {s.Subject?.Protocol} {s.Subject?.SourceAddress}>{s.Subject?.DestinationAddress}:{s.Subject?.DestinationPort} | {s.Reason}"));

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
