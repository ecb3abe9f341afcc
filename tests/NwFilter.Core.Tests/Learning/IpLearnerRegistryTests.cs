using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using static NwFilter.Core.Tests.TestSupport.LearningPackets;

namespace NwFilter.Core.Tests.Learning;

public sealed class IpLearnerRegistryTests
{
    private static IpLearnerOptions Options(string port = "vnet0", IpLearningMode mode = IpLearningMode.Dhcp) => new(port, VmMac, mode);

    [Fact]
    public async Task StartingAgainForAPortReplacesItsLearner()
    {
        await using var registry = new IpLearnerRegistry(frameSource: new FakeFrameSource());
        var started = new List<IpLearner>();
        registry.LearnerStarted += (_, l) => started.Add(l);
        var first = await registry.StartAsync(Options(), sink: null);
        var second = await registry.StartAsync(Options(), sink: null);
        var other = await registry.StartAsync(Options("vnet1"), sink: null);

        Assert.Equal(IpLearningState.Stopped, first.State);
        Assert.Same(second, registry.Get("vnet0"));
        Assert.Same(other, registry.Get("vnet1"));
        Assert.Equal(2, registry.Learners.Count);
        Assert.Equal([first, second, other], started);
    }

    [Fact]
    public async Task StoppingForgetsTheLearnerAndOnRequestItsLeases()
    {
        using var state = new TempDirectory();
        var store = new LeaseStore(state.Path);
        var source = new FakeFrameSource();
        await using var registry = new IpLearnerRegistry(store, source);
        var learner = await registry.StartAsync(Options(), sink: null);
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600));
        await WaitFor(() => File.Exists(store.PathOf("vnet0")));

        Assert.True(await registry.StopAsync("vnet0"));
        Assert.Equal(IpLearningState.Stopped, learner.State);
        Assert.Null(registry.Get("vnet0"));
        Assert.True(File.Exists(store.PathOf("vnet0")), "a plain stop keeps the leases for the next start");
        Assert.False(await registry.StopAsync("vnet0", forgetLeases: true));
        Assert.False(File.Exists(store.PathOf("vnet0")));
    }

    [Fact]
    public async Task AFailedStartLeavesNoLearner()
    {
        var source = new FakeFrameSource { OpenFailure = new NwFilterException(Diagnostic.Error("CaptureOpenFailed", "gone", DiagnosticCategory.ResourceUnavailable)) };
        await using var registry = new IpLearnerRegistry(frameSource: source);
        await Assert.ThrowsAsync<NwFilterException>(() => registry.StartAsync(Options(), sink: null));
        Assert.Null(registry.Get("vnet0"));
        Assert.Empty(registry.Learners);
    }

    [Fact]
    public async Task DisposingStopsEveryLearner()
    {
        var registry = new IpLearnerRegistry(frameSource: new FakeFrameSource());
        var a = await registry.StartAsync(Options("vnet0", IpLearningMode.Any), sink: null);
        var b = await registry.StartAsync(Options("vnet1"), sink: null);
        await registry.DisposeAsync();
        Assert.Equal(IpLearningState.Stopped, a.State);
        Assert.Equal(IpLearningState.Stopped, b.State);
        Assert.Empty(registry.Learners);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
