using System.Net;
using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>How the binding manager plans for bindings that learn their IP (no kernel: plans against an empty firewall).</summary>
public sealed class BindingManagerLearningTests : IDisposable
{
    private readonly TempDirectory state = new("nwfilter-learnplan");
    private readonly LeaseStore leases;
    private readonly ManualTimeProvider clock = new();
    private readonly FakeFrameSource source = new();
    private readonly List<IpLearnerRegistry> registries = [];

    public BindingManagerLearningTests() => leases = new LeaseStore(state.Combine("leases"));

    public void Dispose()
    {
        foreach (var registry in registries)
        {
            registry.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        state.Dispose();
    }

    private BindingManager Manager(bool learning = true, IProcessRunner? hostRunner = null)
    {
        var learners = learning ? new IpLearnerRegistry(leases, source, clock) : null;
        if (learners is not null)
        {
            registries.Add(learners);
        }
        return new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = "nwft-absent",
            HostRunner = hostRunner,
            Filters = new InMemoryFilterSource(BuiltInFilters.All),
            Store = new BindingStore(state.Combine("bindings"), "nwft-absent"),
            Learners = learners,
        });
    }

    private static FilterBinding Binding(params (string Name, string Value)[] parameters) =>
        new("vnet0", LearningPackets.VmMac, "clean-traffic") { OwnerName = "vm0", OwnerUuid = Guid.NewGuid(), Parameters = Build.Params(parameters) };

    private static string Plan(BindingManager manager, FilterBinding binding) =>
        manager.PlanApply(FirewallSnapshot.Empty(), [binding]).ToString();

    [Fact]
    public void WithoutLearnersAMissingIpIsRefused()
    {
        var error = Assert.Throws<NwFilterException>(() => Manager(learning: false).Compile(Binding()));
        Assert.Equal(ApplyCodes.IpLearningUnavailable, error.Primary.Code);
        Assert.Contains("-Parameter @{ IP =", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ABindingWaitingForItsIpIsPlannedWithTheLearningRulesOfItsMode()
    {
        var manager = Manager();
        Assert.True(manager.Compile(Binding()).NeedsIpLearning);

        var any = Plan(manager, Binding());
        Assert.Contains("-A libvirt-J-vnet0 -s ! 52:54:00:d5:00:10 -j DROP", any, StringComparison.Ordinal);
        Assert.Contains("-A libvirt-J-vnet0 -p ARP -j ACCEPT", any, StringComparison.Ordinal);
        Assert.DoesNotContain("iptables-restore", any, StringComparison.Ordinal);

        var dhcp = Plan(manager, Binding(("CTRL_IP_LEARNING", "dhcp"), ("DHCPSERVER", "10.213.0.1")));
        Assert.Contains("--ip-src 10.213.0.1 --ip-sport 67 --ip-dport 68 -j ACCEPT", dhcp, StringComparison.Ordinal);
        Assert.Contains("-A libvirt-P-vnet0 -j DROP", dhcp, StringComparison.Ordinal);
    }

    [Fact]
    public void StoredLeasesAreAppliedDirectlyAsTheIpVariableAndExpiredOnesAreNot()
    {
        var manager = Manager();
        var now = clock.GetUtcNow();
        leases.Save("vnet0", LearningPackets.VmMac, IpLearningMode.Dhcp,
        [
            new LearnedAddress(IPAddress.Parse("10.213.0.120"), AddressSource.Dhcp, now, now.AddMinutes(5), LearningPackets.Server),
            new LearnedAddress(IPAddress.Parse("10.213.0.121"), AddressSource.Dhcp, now, now.AddMinutes(10), LearningPackets.Server),
        ]);
        var dhcp = Binding(("CTRL_IP_LEARNING", "dhcp"));
        var plan = Plan(manager, dhcp);
        Assert.Contains("--ip-source 10.213.0.120 -j RETURN", plan, StringComparison.Ordinal);
        Assert.Contains("--ip-source 10.213.0.121 -j RETURN", plan, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromMinutes(7));
        plan = Plan(manager, dhcp);
        Assert.DoesNotContain("10.213.0.120", plan, StringComparison.Ordinal);
        Assert.Contains("--ip-source 10.213.0.121 -j RETURN", plan, StringComparison.Ordinal);

        // In any mode one address is used; a lease of another MAC (a new VM on the port) is not.
        Assert.Contains("--ip-source 10.213.0.121 -j RETURN", Plan(manager, Binding()), StringComparison.Ordinal);
        var other = Binding() with { MacAddress = LearningPackets.OtherMac };
        Assert.Contains("-s ! 52:54:00:d5:00:11 -j DROP", Plan(manager, other), StringComparison.Ordinal);
    }

    [Fact]
    public void TheLearningStatusSaysHowABindingLearnsAndWhatIsKnown()
    {
        var manager = Manager();
        Assert.Null(manager.GetLearningStatus(Binding(("IP", "10.213.0.5"))));
        Assert.Null(manager.GetLearningStatus(new FilterBinding("vnet0", LearningPackets.VmMac, "allow-arp")));

        var any = manager.GetLearningStatus(Binding())!;
        Assert.Equal((IpLearningMode.Any, IpLearningState.NotStarted, false), (any.Mode, any.State, any.Listening));
        Assert.Empty(any.Addresses);

        leases.Save("vnet0", LearningPackets.VmMac, IpLearningMode.Any,
            [new LearnedAddress(IPAddress.Parse("10.213.0.7"), AddressSource.IPv4Packet, clock.GetUtcNow(), null, null)]);
        Assert.Equal(IpLearningState.Learned, manager.GetLearningStatus(Binding())!.State);
        var dhcp = manager.GetLearningStatus(Binding(("CTRL_IP_LEARNING", "dhcp")))!;
        Assert.Equal((IpLearningMode.Dhcp, IpLearningState.NotStarted), (dhcp.Mode, dhcp.State));
        Assert.Equal("10.213.0.7", Assert.Single(dhcp.Addresses).Address.ToString());
    }

    [Theory]
    [InlineData(false, "the binding was removed: learning ends")]
    [InlineData(true, "the binding no longer learns its address in dhcp mode: learning ends")]
    public async Task ALearnerWhoseBindingWentAwayEndsAtItsNextChangeWithoutTouchingTheFirewall(bool storedWithIp, string why)
    {
        // The binding was removed, or replaced by one that gives IP, by another process (whose learner this is not).
        var manager = Manager();
        if (storedWithIp)
        {
            manager.Store.Save(Binding(("IP", "10.213.0.5"), ("CTRL_IP_LEARNING", "dhcp")));
        }
        var learner = await manager.Learners!.StartAsync(new IpLearnerOptions("vnet0", LearningPackets.VmMac, IpLearningMode.Dhcp),
            new BindingManager.ReinstantiationSink(manager, ""));
        source.Send(LearningPackets.DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600));
        var ended = await Task.WhenAny(learner.Completion, Task.Delay(TimeSpan.FromSeconds(10))) == learner.Completion;
        if (!ended)
        {
            Assert.Fail($"{learner}: {string.Join("; ", Drain(learner))}");
        }

        Assert.Equal(IpLearningState.Stopped, learner.State);
        var events = new List<IpLearningEvent>();
        await foreach (var e in learner.Events.ReadAllAsync())
        {
            events.Add(e);
        }
        Assert.Equal(why, Assert.Single(events.OfType<LearningWarning>()).Message);
        Assert.DoesNotContain(events, e => e is ReinstantiationSucceeded or ReinstantiationFailed or AddressSinkFailed);
    }

    [Theory]
    [InlineData(IpLearningMode.Any)]
    [InlineData(IpLearningMode.Dhcp)]
    public async Task AFailedReinstantiationIsReportedOnceAndEndsAnyModeButNotSnooping(IpLearningMode mode)
    {
        // Every firewall tool fails: the re-instantiation cannot even read the tables.
        var manager = Manager(hostRunner: new FailingRunner());
        var binding = Binding(("CTRL_IP_LEARNING", mode.ToString()));
        manager.Store.Save(binding);
        var learner = await manager.Learners!.StartAsync(new IpLearnerOptions("vnet0", LearningPackets.VmMac, mode),
            new BindingManager.ReinstantiationSink(manager, ""));
        source.Send(LearningPackets.DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600));

        var failed = await NextAsync<ReinstantiationFailed>(learner);
        Assert.Equal(["10.213.0.120"], failed.IP.ToArray());
        Assert.Equal("clean-traffic", failed.Filter);
        Assert.StartsWith("Reading the firewall failed", failed.Reason, StringComparison.Ordinal);
        if (mode == IpLearningMode.Any)
        {
            await learner.Completion.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(IpLearningState.Failed, learner.State);
        }
        else
        {
            Assert.Equal(IpLearningState.Learned, learner.State); // still snooping: the next change tries again
            Assert.False(learner.Completion.IsCompleted);
        }
        Assert.DoesNotContain(Drain(learner), e => e is AddressSinkFailed);
    }

    [Fact]
    public async Task ABindingThatGivesIpAndLearnsIpv6ReportsTheGivenIpNotAnEmptyOne()
    {
        // Only IPv6 is learned: the rules always carry the binding's own IP (never the learning rules), and the
        // events say so; before, they said "IP=" (none) and, with no IPv6 left, "back to the learning rules".
        var manager = Manager(hostRunner: new FailingRunner());
        var binding = new FilterBinding("vnet0", LearningPackets.VmMac, "nwfilter-clean-traffic-dual-stack")
        {
            OwnerName = "vm0",
            OwnerUuid = Guid.NewGuid(),
            Parameters = Build.Params(("IP", "10.213.0.10")),
        };
        manager.Store.Save(binding);
        var learner = await manager.Learners!.StartAsync(new IpLearnerOptions("vnet0", LearningPackets.VmMac, IpLearningMode.Any) { LearnIPv4 = false, LearnIPv6 = true },
            new BindingManager.ReinstantiationSink(manager, ""));
        source.Send(Learning.Ipv6LearningTests.NeighbourSolicitation("fd00:213::10")); // the VM's DAD

        var failed = await NextAsync<ReinstantiationFailed>(learner);
        Assert.Equal(["10.213.0.10"], failed.IP.ToArray());
        Assert.Equal("nwfilter-clean-traffic-dual-stack", failed.Filter);
        Assert.Equal(IPAddress.Parse("fd00:213::10"), Assert.Single(learner.Addresses).Address);
    }

    private static async Task<T> NextAsync<T>(IpLearner learner) where T : IpLearningEvent
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var e in learner.Events.ReadAllAsync(timeout.Token))
        {
            if (e is T wanted)
            {
                return wanted;
            }
        }
        throw new Xunit.Sdk.XunitException($"no {typeof(T).Name}");
    }

    /// <summary>A host where every program fails.</summary>
    private sealed class FailingRunner : IProcessRunner
    {
        public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ProcessResult(request, 1, "", $"{request.Program}: injected failure", TimeSpan.Zero));
    }

    private static List<IpLearningEvent> Drain(IpLearner learner)
    {
        var list = new List<IpLearningEvent>();
        while (learner.Events.TryRead(out var e))
        {
            list.Add(e);
        }
        return list;
    }

    [Fact]
    public void ADhcpServerThatIsNotAnIPv4AddressIsRefused()
    {
        var error = Assert.Throws<NwFilterException>(() => Manager().Compile(Binding(("CTRL_IP_LEARNING", "dhcp"), ("DHCPSERVER", "fd00::1"))));
        Assert.Equal("InvalidDhcpServer", error.Primary.Code);
    }
}
