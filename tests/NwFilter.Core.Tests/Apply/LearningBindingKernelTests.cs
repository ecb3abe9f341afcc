using System.Text.RegularExpressions;
using NwFilter.Core.Apply;
using NwFilter.Core.Model;
using NwFilter.Core.Host;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// Bindings that learn their IP on the real kernel, through <see cref="BindingManager"/>: the learning rules applied by
/// the executor, a learner on the port, re-instantiation with the learned address, packets that pass or drop, lease
/// expiry on an injected clock, restore from the lease store, and removal. Every test runs on both backends (the
/// ebtables/iptables compatibility mode and nftables): the same packets pass and drop on each.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed partial class LearningBindingKernelTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    public static TheoryData<FirewallBackendKind> Backends() => [FirewallBackendKind.EbIpTables, FirewallBackendKind.Nftables];

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task DhcpModeLearnsTheLeaseFromTheTrustedServerOnlyAndTheBindingThenFiltersWithIt(FirewallBackendKind backend)
    {
        Requirement.Program("dnsmasq");
        using var lab = BindingLab.Create(2, backend);
        var (vm, other) = (lab.Vms[0], lab.Vms[1]);
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        lab.Learners = new IpLearnerRegistry(lab.Leases, clock: clock);
        lab.NewManager();
        // The real server leases exactly the VM's lab address; a rogue in the other VM's namespace offers others.
        using var dnsmasq = DnsmasqServer.Start(lab.Lab, lab.Lab.HostNamespace, NetnsLab.BridgeName, vm.IPv4, vm.IPv4, TimeSpan.FromMinutes(2));
        using var rogue = DnsmasqServer.Start(lab.Lab, other.Namespace, other.Interface, "10.213.0.200", "10.213.0.250");
        lab.Lab.Run(vm.Namespace, "ip", "-4", "addr", "flush", "dev", vm.Interface).EnsureSuccess();

        var binding = BindingLab.Binding(vm, "clean-traffic", ("CTRL_IP_LEARNING", "dhcp"), ("DHCPSERVER", NetnsLab.BridgeIPv4));
        var learner = Assert.Single(lab.Apply(binding).Items).Learner;
        Assert.NotNull(learner);
        Assert.Equal(IpLearningMode.Dhcp, learner.Mode);
        Assert.Equal(IpLearningState.Learning, learner.State);
        if (backend == FirewallBackendKind.EbIpTables)
        {
            var save = lab.Save("ebtables-save", "nat");
            Assert.Contains($"-A libvirt-O-vnet0 -p IPv4 -d {vm.Mac} --ip-src {NetnsLab.BridgeIPv4} --ip-proto udp --ip-sport 67 --ip-dport 68 -j ACCEPT", save, StringComparison.Ordinal);
            Assert.DoesNotContain("J-vnet0", save, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains($"ether daddr {vm.Mac} ip saddr {NetnsLab.BridgeIPv4} ip protocol udp udp sport 67 udp dport 68 accept", Nft(lab), StringComparison.Ordinal);
            Assert.DoesNotContain("vnet0", lab.Save(), StringComparison.Ordinal); // nothing of the port in ebtables/iptables
        }

        // Only the trusted server is heard: the VM gets its lab address, the binding is re-instantiated with it.
        Assert.Equal(vm.IPv4, Udhcpc(lab.Lab, vm));
        Assert.Equal(vm.IPv4, (await LearnerEvents.Next<AddressLearned>(learner, Wait)).Address.Address.ToString());
        var applied = await LearnerEvents.Next<ReinstantiationSucceeded>(learner, Wait);
        Assert.Equal([vm.IPv4], applied.IP.ToArray());
        if (backend == FirewallBackendKind.EbIpTables)
        {
            Assert.True(applied.ProcessLaunches > 0); // nftables may apply in a held libnftables context, with none
        }
        Assert.Equal(IpLearningState.Learned, learner.State);
        Assert.Matches($@"DHCPOFFER\([^)]*\) 10\.213\.0\.2\d\d {vm.Mac}", rogue.Log); // the rogue did answer
        Assert.Equal([vm.IPv4], learner.Addresses.Select(a => a.Address.ToString()));
        Assert.Contains(LearnedRule(backend, vm.IPv4), Rules(lab, backend), StringComparison.Ordinal);
        Assert.Equal(vm.IPv4, Assert.Single(lab.Leases.Load(vm.PortDevice, binding.MacAddress, clock.GetUtcNow())).Address.ToString());

        // Packets: the leased address passes, a spoofed one is dropped.
        lab.Lab.Run(vm.Namespace, "ip", "addr", "add", vm.IPv4 + "/24", "dev", vm.Interface).EnsureSuccess();
        Assert.True(lab.Lab.Ping(vm.Namespace, other.IPv4, timeout: TimeSpan.FromSeconds(3)), "the leased address passes");
        Assert.False(lab.Lab.SpoofedIPv4Arrives(vm, other, "10.213.0.99"), "a spoofed source address is dropped");

        // The lease runs out on the learner's clock: back to the DHCP-only rules, and nothing but DHCP passes.
        clock.Advance(TimeSpan.FromMinutes(2));
        await LearnerEvents.Next<LeaseExpired>(learner, Wait);
        Assert.True((await LearnerEvents.Next<ReinstantiationSucceeded>(learner, Wait)).LearningRules);
        Assert.Equal(IpLearningState.Learning, learner.State);
        Assert.DoesNotContain(LearnedRule(backend, vm.IPv4), Rules(lab, backend), StringComparison.Ordinal);
        Assert.False(lab.Lab.Ping(vm.Namespace, other.IPv4, timeout: TimeSpan.FromSeconds(1)), "only DHCP passes once the lease expired");

        // Removing the binding stops the learner, removes every chain and forgets the leases.
        Assert.True(lab.Remove(vm.PortDevice).Items.Single().Succeeded);
        Assert.Equal(IpLearningState.Stopped, learner.State);
        Assert.DoesNotContain("vnet0", lab.Save() + Nft(lab), StringComparison.Ordinal);
        Assert.False(File.Exists(lab.Leases.PathOf(vm.PortDevice)));
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task DhcpModeRestoresStoredLeasesAtOnceAndKeepsSnooping(FirewallBackendKind backend)
    {
        Requirement.Program("dnsmasq");
        using var lab = BindingLab.Create(1, backend);
        var vm = lab.Vms[0];
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        lab.Learners = new IpLearnerRegistry(lab.Leases, clock: clock);
        lab.NewManager();
        using var dnsmasq = DnsmasqServer.Start(lab.Lab, lab.Lab.HostNamespace, NetnsLab.BridgeName, vm.IPv4, vm.IPv4, TimeSpan.FromMinutes(2));
        lab.Lab.Run(vm.Namespace, "ip", "-4", "addr", "flush", "dev", vm.Interface).EnsureSuccess();
        var learner = lab.Apply(BindingLab.Binding(vm, "clean-traffic", ("CTRL_IP_LEARNING", "DHCP"))).Items[0].Learner!;
        Udhcpc(lab.Lab, vm);
        await LearnerEvents.Next<ReinstantiationSucceeded>(learner, Wait);

        // A restart: the process's learners end (leases stay stored), the firewall is flushed.
        await lab.Learners.DisposeAsync();
        lab.Lab.RunInHostChecked("nft", "flush", "ruleset");
        lab.Learners = new IpLearnerRegistry(lab.Leases, clock: clock);
        lab.NewManager();

        var restored = Assert.Single(lab.Manager.RestoreAsync().GetAwaiter().GetResult().Items);
        Assert.True(restored.Succeeded, restored.Error?.Message);
        Assert.Contains(LearnedRule(backend, vm.IPv4), Rules(lab, backend), StringComparison.Ordinal);
        var snooper = restored.Learner!;
        Assert.Equal(vm.IPv4, Assert.Single((await LearnerEvents.Next<LeasesRestored>(snooper, Wait)).Addresses).Address.ToString());
        Assert.Equal(0, (await LearnerEvents.Next<ReinstantiationSucceeded>(snooper, Wait)).ProcessLaunches);
        Assert.Equal(IpLearningState.Learned, snooper.State);
        var status = lab.Manager.GetLearningStatus(lab.Store.Get(vm.PortDevice)!)!;
        Assert.True(status.Listening);
        Assert.Equal([vm.IPv4], status.Addresses.Select(a => a.Address.ToString()));

        // The restored learner still snoops: the stored lease expires on its clock.
        clock.Advance(TimeSpan.FromMinutes(3));
        Assert.True((await LearnerEvents.Next<ReinstantiationSucceeded>(snooper, Wait)).LearningRules);
        Assert.DoesNotContain(LearnedRule(backend, vm.IPv4), Rules(lab, backend), StringComparison.Ordinal);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task AnyModeLearnsFromAPlainIPv4PacketReinstantiatesAndIsRestoredWithoutLearningAgain(FirewallBackendKind backend)
    {
        using var lab = BindingLab.Create(2, backend);
        var (vm, other) = (lab.Vms[0], lab.Vms[1]);
        lab.Learners = new IpLearnerRegistry(lab.Leases);
        lab.NewManager();

        var learner = lab.Apply(BindingLab.Binding(vm, "clean-traffic")).Items[0].Learner!;
        Assert.Equal(IpLearningMode.Any, learner.Mode);
        Assert.Contains(backend == FirewallBackendKind.EbIpTables ? $"-A libvirt-I-vnet0 -s ! {vm.Mac} -j DROP" : $"ether saddr != {vm.Mac} drop",
            Rules(lab, backend), StringComparison.Ordinal);

        // A broadcast ping needs no ARP first: the first frame is a plain IPv4 packet from the VM's address.
        lab.Lab.Run(vm.Namespace, "ping", "-n", "-q", "-b", "-c", "1", "-W", "1", "10.213.0.255");
        var learned = await LearnerEvents.Next<AddressLearned>(learner, Wait);
        Assert.Equal(AddressSource.IPv4Packet, learned.Address.Source);
        Assert.Equal([vm.IPv4], (await LearnerEvents.Next<ReinstantiationSucceeded>(learner, Wait)).IP.ToArray());
        await learner.Completion.WaitAsync(Wait);
        Assert.Equal(IpLearningState.Learned, learner.State);
        Assert.Contains(LearnedRule(backend, vm.IPv4), Rules(lab, backend), StringComparison.Ordinal);
        Assert.True(lab.Lab.Ping(vm.Namespace, other.IPv4, timeout: TimeSpan.FromSeconds(3)), "the learned address passes");
        Assert.False(lab.Lab.SpoofedIPv4Arrives(vm, other, "10.213.0.99"), "a spoofed source address is dropped");

        // Restored in a new process after a flush: the stored address is applied at once, no learner is needed.
        await lab.Learners.DisposeAsync();
        lab.Lab.RunInHostChecked("nft", "flush", "ruleset");
        lab.Learners = new IpLearnerRegistry(lab.Leases);
        lab.NewManager();
        var restored = Assert.Single(lab.Manager.RestoreAsync().GetAwaiter().GetResult().Items);
        Assert.True(restored.Succeeded, restored.Error?.Message);
        Assert.Null(restored.Learner);
        Assert.Contains(LearnedRule(backend, vm.IPv4), Rules(lab, backend), StringComparison.Ordinal);
        var status = lab.Manager.GetLearningStatus(lab.Store.Get(vm.PortDevice)!)!;
        Assert.Equal(IpLearningState.Learned, status.State);
        Assert.False(status.Listening);

        Assert.True(lab.Remove(vm.PortDevice).Items.Single().Succeeded);
        Assert.DoesNotContain("vnet0", lab.Save() + Nft(lab), StringComparison.Ordinal);
        Assert.False(File.Exists(lab.Leases.PathOf(vm.PortDevice)));
    }

    [SkippableFact]
    public async Task ALearningBindingMovesBetweenBackendsWithItsLease()
    {
        Requirement.Program("dnsmasq");
        using var lab = BindingLab.Create(2, FirewallBackendKind.EbIpTables);
        var (vm, other) = (lab.Vms[0], lab.Vms[1]);
        lab.Learners = new IpLearnerRegistry(lab.Leases);
        lab.NewManager();
        using var dnsmasq = DnsmasqServer.Start(lab.Lab, lab.Lab.HostNamespace, NetnsLab.BridgeName, vm.IPv4, vm.IPv4, TimeSpan.FromMinutes(10));
        lab.Lab.Run(vm.Namespace, "ip", "-4", "addr", "flush", "dev", vm.Interface).EnsureSuccess();
        var learner = lab.Apply(BindingLab.Binding(vm, "clean-traffic", ("CTRL_IP_LEARNING", "dhcp"))).Items[0].Learner!;
        Assert.Equal(vm.IPv4, Udhcpc(lab.Lab, vm));
        await LearnerEvents.Next<ReinstantiationSucceeded>(learner, Wait);
        lab.Lab.Run(vm.Namespace, "ip", "addr", "add", vm.IPv4 + "/24", "dev", vm.Interface).EnsureSuccess();

        foreach (var target in new[] { FirewallBackendKind.Nftables, FirewallBackendKind.EbIpTables })
        {
            var moved = await lab.Manager.RestoreAsync(backend: target);
            var item = Assert.Single(moved.Items);
            Assert.True(item.Succeeded, item.Error?.Message);
            Assert.Empty(moved.Warnings);
            Assert.Equal(target, lab.Store.Get(vm.PortDevice)!.Backend);
            Assert.Same(learner, item.Learner); // the same learner keeps snooping
            Assert.Contains(LearnedRule(target, vm.IPv4), Rules(lab, target), StringComparison.Ordinal);
            // Nothing left on the backend it left (ebtables-nft's own tables name the port too: NwFilter's chains are vnet0/...).
            Assert.DoesNotContain(target == FirewallBackendKind.Nftables ? "vnet0" : "vnet0/", target == FirewallBackendKind.Nftables ? lab.Save() : Nft(lab), StringComparison.Ordinal);
            Assert.True(lab.Lab.Ping(vm.Namespace, other.IPv4, timeout: TimeSpan.FromSeconds(3)), $"the leased address passes on {target}");
            Assert.False(lab.Lab.SpoofedIPv4Arrives(vm, other, "10.213.0.99"), $"a spoofed source address is dropped on {target}");
        }
        Assert.True(lab.Remove(vm.PortDevice).Items.Single().Succeeded);
        Assert.True(lab.Lab.SpoofedIPv4Arrives(vm, other, "10.213.0.99"), "without the binding the spoofed packet arrives (the control)");
    }

    /// <summary>The port's rules as the backend's tool lists them.</summary>
    private static string Rules(BindingLab lab, FirewallBackendKind backend) =>
        backend == FirewallBackendKind.EbIpTables ? lab.Save("ebtables-save", "nat") : Nft(lab);

    private static string Nft(BindingLab lab) => lab.Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput;

    /// <summary>The anti-spoofing rule clean-traffic gets with <paramref name="address"/> as IP, in the backend's words.</summary>
    private static string LearnedRule(FirewallBackendKind backend, string address) =>
        backend == FirewallBackendKind.EbIpTables ? $"--ip-src {address} -j RETURN" : $"ip saddr {address} return";

    /// <summary>Runs busybox udhcpc once in the VM (the address is not configured); returns the leased address.</summary>
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


    [GeneratedRegex(@"lease of ([0-9.]+) obtained")]
    private static partial Regex LeaseLine();
}
