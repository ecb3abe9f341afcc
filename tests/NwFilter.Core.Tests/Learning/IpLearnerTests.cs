using System.Net;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using PacketDotNet;
using static NwFilter.Core.Tests.TestSupport.LearningPackets;
using ResolutionResult = NwFilter.Core.Resolution.Resolution;

namespace NwFilter.Core.Tests.Learning;

public sealed class IpLearnerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly FakeFrameSource source = new();
    private readonly RecordingSink sink = new();
    private readonly ManualTimeProvider clock = new();

    private IpLearner Learner(IpLearningMode mode, Func<IpLearnerOptions, IpLearnerOptions>? tune = null, LeaseStore? store = null)
    {
        var options = new IpLearnerOptions("vnet0", VmMac, mode);
        return new IpLearner(tune is null ? options : tune(options), source, sink, store, clock);
    }

    /// <summary>Reads events until one of type <typeparamref name="T"/> arrives; returns all read.</summary>
    private static async Task<List<IpLearningEvent>> ReadUntil<T>(IpLearner learner) where T : IpLearningEvent
    {
        var seen = new List<IpLearningEvent>();
        using var timeout = new CancellationTokenSource(Wait);
        await foreach (var e in learner.Events.ReadAllAsync(timeout.Token))
        {
            seen.Add(e);
            if (e is T)
            {
                return seen;
            }
        }
        throw new Xunit.Sdk.XunitException($"no {typeof(T).Name}; saw: {string.Join("; ", seen)}");
    }

    [Fact]
    public async Task AnyModeLearnsTheFirstUsableAddressTellsTheSinkAndStops()
    {
        await using var learner = Learner(IpLearningMode.Any);
        await learner.StartAsync();
        Assert.Equal(IpLearningState.Learning, learner.State);
        var request = Assert.Single(source.Requests);
        Assert.Equal("vnet0", request.Device);
        Assert.Equal("ether host 52:54:00:d5:00:10 or ether dst ff:ff:ff:ff:ff:ff", request.Filter);

        source.Send(Ipv4FromVm("0.0.0.0"));
        source.Send(Ipv4FromVm("10.213.0.99", mac: OtherMac));
        source.Send(Ipv4FromVm("10.213.0.10"));
        source.Send(Ipv4FromVm("10.213.0.11"));
        var events = await ReadUntil<LearningStopped>(learner);
        await learner.Completion.WaitAsync(Wait);

        var learned = Assert.IsType<AddressLearned>(events[0]);
        Assert.Equal(IPAddress.Parse("10.213.0.10"), learned.Address.Address);
        Assert.Equal(IpLearningState.Learned, Assert.IsType<LearningStopped>(events[^1]).FinalState);
        Assert.Equal(IpLearningState.Learned, learner.State);
        Assert.Equal(["10.213.0.10"], learner.Addresses.Select(a => a.Address.ToString()));
        var change = Assert.Single(sink.Changes);
        Assert.Equal(["10.213.0.10"], change.IPv4Values.ToArray());
        Assert.Same(learned, change.Cause);
        Assert.True(source.Disposed);
    }

    [Fact]
    public async Task AnyModeLearnsFromADhcpAckToo()
    {
        await using var learner = Learner(IpLearningMode.Any);
        await learner.StartAsync();
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120"));
        await learner.Completion.WaitAsync(Wait);
        Assert.Equal(AddressSource.Dhcp, Assert.Single(learner.Addresses).Source);
    }

    [Fact]
    public async Task DhcpModeTracksLeasesAndTellsTheSinkOnlyWhenTheSetChanges()
    {
        await using var learner = Learner(IpLearningMode.Dhcp, o => o with { DhcpServers = [Server] });
        await learner.StartAsync();
        Assert.Contains("src port 67 and dst port 68", Assert.Single(source.Requests).Filter, StringComparison.Ordinal);

        source.Send(Ipv4FromVm("10.213.0.10")); // not DHCP: nothing in dhcp mode
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.200", 600, server: RogueServer));
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600));
        Assert.IsType<AddressLearned>((await ReadUntil<AddressLearned>(learner))[^1]);
        Assert.Equal(IpLearningState.Learned, learner.State);

        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600));
        await ReadUntil<LeaseRenewed>(learner);
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.121", 600));
        await ReadUntil<AddressLearned>(learner);
        source.Send(DhcpRequest(DhcpMessageType.Release, ciaddr: "10.213.0.120"));
        await ReadUntil<LeaseReleased>(learner);
        source.Send(DhcpRequest(DhcpMessageType.Release, ciaddr: "10.213.0.121"));
        await ReadUntil<LeaseReleased>(learner);

        Assert.Equal(IpLearningState.Learning, learner.State);
        Assert.Equal(
            ["10.213.0.120", "10.213.0.120,10.213.0.121", "10.213.0.121", ""],
            sink.Changes.Select(c => string.Join(',', c.IPv4Values)));
    }

    [Fact]
    public async Task LeasesExpireOnTheClock()
    {
        await using var learner = Learner(IpLearningMode.Dhcp);
        await learner.StartAsync();
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 120));
        await ReadUntil<AddressLearned>(learner);
        await WaitFor(() => clock.PendingTimers > 0);

        clock.Advance(TimeSpan.FromSeconds(119));
        Assert.Equal(IpLearningState.Learned, learner.State);
        clock.Advance(TimeSpan.FromSeconds(1));
        var expired = Assert.IsType<LeaseExpired>((await ReadUntil<LeaseExpired>(learner))[^1]);
        Assert.Equal(IPAddress.Parse("10.213.0.120"), expired.Address.Address);
        await WaitFor(() => sink.Changes.Count == 2);
        Assert.Empty(sink.Changes.Last().Addresses);
        Assert.Equal(IpLearningState.Learning, learner.State);
    }

    [Fact]
    public async Task ARenewalPushesTheExpiryBack()
    {
        await using var learner = Learner(IpLearningMode.Dhcp);
        await learner.StartAsync();
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 120));
        await ReadUntil<AddressLearned>(learner);
        await WaitFor(() => clock.PendingTimers > 0);
        clock.Advance(TimeSpan.FromSeconds(60));
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 120));
        await ReadUntil<LeaseRenewed>(learner);
        clock.Advance(TimeSpan.FromSeconds(61));
        await Task.Delay(100);
        Assert.Equal(IpLearningState.Learned, learner.State);
        await WaitFor(() => clock.PendingTimers > 0);
        clock.Advance(TimeSpan.FromSeconds(60));
        await ReadUntil<LeaseExpired>(learner);
    }

    [Fact]
    public async Task LeasesSurviveARestartThroughTheStore()
    {
        using var state = new TempDirectory();
        var store = new LeaseStore(state.Path);
        await using (var first = Learner(IpLearningMode.Dhcp, store: store))
        {
            await first.StartAsync();
            source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600));
            source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.121", 60));
            await ReadUntil<AddressLearned>(first);
            await ReadUntil<AddressLearned>(first);
        }
        Assert.Equal(2, store.Load("vnet0", VmMac, clock.GetUtcNow()).Length);

        clock.Advance(TimeSpan.FromSeconds(90));
        await using var second = Learner(IpLearningMode.Dhcp, store: store);
        await second.StartAsync();
        var restored = Assert.IsType<LeasesRestored>((await ReadUntil<LeasesRestored>(second))[^1]);
        Assert.Equal(["10.213.0.120"], restored.Addresses.Select(a => a.Address.ToString()));
        await WaitFor(() => second.State == IpLearningState.Learned);
        Assert.Equal(["10.213.0.120"], sink.Changes.Last().IPv4Values.ToArray());
    }

    [Fact]
    public async Task AnyModeWithAStoredAddressNeedsNoCapture()
    {
        using var state = new TempDirectory();
        var store = new LeaseStore(state.Path);
        store.Save("vnet0", VmMac, IpLearningMode.Any,
            [new LearnedAddress(IPAddress.Parse("10.213.0.10"), AddressSource.IPv4Packet, clock.GetUtcNow(), null, null)]);
        await using var learner = Learner(IpLearningMode.Any, store: store);
        await learner.StartAsync();
        await learner.Completion.WaitAsync(Wait);
        Assert.Empty(source.Requests);
        Assert.Equal(IpLearningState.Learned, learner.State);
        Assert.Equal(["10.213.0.10"], Assert.Single(sink.Changes).IPv4Values.ToArray());
    }

    [Fact]
    public async Task ACaptureThatCannotOpenFailsTheStart()
    {
        source.OpenFailure = new NwFilterException(Diagnostic.Error("CaptureOpenFailed", "no such device", DiagnosticCategory.ResourceUnavailable));
        await using var learner = Learner(IpLearningMode.Any);
        await Assert.ThrowsAsync<NwFilterException>(() => learner.StartAsync());
        Assert.Equal(IpLearningState.Failed, learner.State);
        Assert.True(learner.Completion.IsCompleted);
        var events = await ReadUntil<LearningStopped>(learner);
        Assert.IsType<LearningFailed>(events[0]);
    }

    [Fact]
    public async Task ACaptureThatBreaksFailsTheLearner()
    {
        await using var learner = Learner(IpLearningMode.Dhcp);
        await learner.StartAsync();
        source.Fail("the interface went down");
        var events = await ReadUntil<LearningStopped>(learner);
        Assert.Contains("the interface went down", Assert.IsType<LearningFailed>(events[0]).Reason, StringComparison.Ordinal);
        Assert.Equal(IpLearningState.Failed, learner.State);
    }

    [Fact]
    public async Task StopEndsListeningAndKeepsTheAddresses()
    {
        await using var learner = Learner(IpLearningMode.Dhcp);
        await learner.StartAsync();
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600));
        await ReadUntil<AddressLearned>(learner);
        await learner.StopAsync();
        Assert.Equal(IpLearningState.Stopped, learner.State);
        Assert.True(source.Disposed);
        Assert.Single(learner.Addresses);
        await learner.StopAsync(); // twice is fine
    }

    [Fact]
    public async Task CancellingTheStartTokenLaterStopsTheLearner()
    {
        using var lifetime = new CancellationTokenSource();
        await using var learner = Learner(IpLearningMode.Any);
        await learner.StartAsync(lifetime.Token);
        lifetime.Cancel();
        await learner.Completion.WaitAsync(Wait);
        Assert.Equal(IpLearningState.Stopped, learner.State);
    }

    [Fact]
    public async Task ASinkOutcomeLandsRightAfterItsCause()
    {
        sink.Outcome = c => new TestReinstantiated(c.PortDevice, c.Cause.Time, c.Addresses.Length);
        await using var learner = Learner(IpLearningMode.Any);
        var raised = new List<IpLearningEvent>();
        learner.EventRaised += (_, e) => raised.Add(e);
        await learner.StartAsync();
        source.Send(Ipv4FromVm("10.213.0.10"));
        var events = await ReadUntil<LearningStopped>(learner);
        Assert.Equal([typeof(AddressLearned), typeof(TestReinstantiated), typeof(LearningStopped)], events.Select(e => e.GetType()));
        Assert.Equal(events, raised);
    }

    [Fact]
    public async Task ASinkThatThrowsIsReportedAndFailsAnyMode()
    {
        sink.Failure = new InvalidOperationException("ebtables broke");
        await using var learner = Learner(IpLearningMode.Any);
        await learner.StartAsync();
        source.Send(ArpFromVm(ArpOperation.Response, "10.213.0.10", "10.213.0.1"));
        var events = await ReadUntil<LearningStopped>(learner);
        Assert.Equal("ebtables broke", Assert.IsType<AddressSinkFailed>(events[1]).Exception.Message);
        Assert.Equal(IpLearningState.Failed, learner.State);
    }

    [Fact]
    public async Task DhcpBurstsAreBoundedByTheRateLimit()
    {
        await using var learner = Learner(IpLearningMode.Dhcp, o => o with { MaxLeases = 1000, DhcpBurst = 20 });
        await learner.StartAsync();
        for (var i = 0; i < 60; i++)
        {
            source.Send(DhcpReply(DhcpMessageType.Ack, $"10.213.1.{i + 1}", 600));
        }
        source.Send(Ipv4FromVm("10.213.0.10")); // a marker: handled after all the ACKs
        await WaitFor(() => learner.FramesSeen == 61);
        Assert.Equal(20, learner.Addresses.Length);
    }

    [Fact]
    public async Task IPv6IsLearnedBesideIPv4WhenAsked()
    {
        await using var learner = Learner(IpLearningMode.Any, o => o with { LearnIPv6 = true });
        await learner.StartAsync();
        source.Send(Ipv4FromVm("10.213.0.10"));
        await ReadUntil<AddressLearned>(learner);
        Assert.Equal(IpLearningState.Learned, learner.State);
        Assert.False(learner.Completion.IsCompleted);
        source.Send(Ipv6FromVm("fe80::5054:ff:fed5:10", advertisedTarget: "fd00:213::10"));
        await learner.Completion.WaitAsync(Wait);
        Assert.Equal(["fd00:213::10"], sink.Changes.Last().IPv6Values.ToArray());
        Assert.Equal(["10.213.0.10"], sink.Changes.Last().IPv4Values.ToArray());
    }

    [Fact]
    public void OptionsForABindingTakeModeServersAndLinkDevice()
    {
        var binding = new Model.FilterBinding("vnet7", VmMac, "clean-traffic") { LinkDevice = "eth9" };
        var resolution = new ResolutionResult(ResolutionStatus.NeedsIpLearning, [], IpLearningMode.Dhcp,
            Build.Params(("DHCPSERVER", "10.0.0.1"), ("DHCPSERVER", "10.0.0.2")));
        var options = IpLearnerOptions.ForBinding(binding, resolution, "ns1");
        Assert.Equal(IpLearningMode.Dhcp, options.Mode);
        Assert.Equal(["10.0.0.1", "10.0.0.2"], options.DhcpServers.Select(s => s.ToString()));
        Assert.Equal("eth9", options.ToCaptureRequest().Device);
        Assert.Equal("ns1", options.ToCaptureRequest().NamespaceName);

        var bad = resolution with { Variables = Build.Params(("DHCPSERVER", "10.0.0"), ("DHCPSERVER", "server")) };
        Assert.Equal(2, Assert.Throws<NwFilterException>(() => IpLearnerOptions.ForBinding(binding, bad)).Diagnostics.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = new IpLearnerOptions("vnet0", VmMac, IpLearningMode.None); });
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
