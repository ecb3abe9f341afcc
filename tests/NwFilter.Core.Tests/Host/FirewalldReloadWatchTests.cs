using System.Collections.Concurrent;
using System.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Host;

/// <summary>firewalld's Reloaded signal on a private D-Bus, sent by a fake firewalld (dbus-send): one change per signal, nothing for other signals, and the watch survives a restart of the bus.</summary>
public sealed class FirewalldReloadWatchTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    /// <summary>Emits until the watch has heard one (it subscribes asynchronously), then returns what it heard.</summary>
    internal static async Task SubscribedAsync(PrivateDBus bus, ConcurrentQueue<string> heard)
    {
        var deadline = Stopwatch.StartNew();
        while (heard.IsEmpty)
        {
            Assert.True(deadline.Elapsed < Patience, "the watch heard no Reloaded signal");
            await bus.EmitAsync();
            await Task.Delay(100);
        }
        await Task.Delay(300); // the retries in flight
        heard.Clear();
    }

    private static async Task WaitForAsync(ConcurrentQueue<string> heard, int count)
    {
        var deadline = Stopwatch.StartNew();
        while (heard.Count < count)
        {
            Assert.True(deadline.Elapsed < Patience, $"heard {heard.Count} of {count}: {string.Join(" | ", heard)}");
            await Task.Delay(20);
        }
    }

    [SkippableFact]
    public async Task EachReloadedSignalIsOneChangeAndOtherSignalsAreNone()
    {
        using var bus = PrivateDBus.Start();
        var heard = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var watch = new FirewalldReloadWatch(bus.Address);
        Assert.Contains("firewalld", watch.Name, StringComparison.Ordinal);
        var running = Task.Run(() => watch.WatchAsync(heard.Enqueue, stop.Token));
        await SubscribedAsync(bus, heard);

        await bus.EmitAsync("PanicModeEnabled");
        await bus.EmitAsync("Reloaded");
        await bus.EmitAsync("Reloaded");
        await WaitForAsync(heard, 2);
        await Task.Delay(300);
        Assert.Equal(["firewalld reloaded", "firewalld reloaded"], heard);

        await stop.CancelAsync();
        await running.WaitAsync(Patience);
    }

    [SkippableFact]
    public async Task AfterTheBusRestartsTheWatchConnectsAgainAndReportsOneChange()
    {
        using var bus = PrivateDBus.Start();
        var heard = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        FirewalldReloadWatch.ReconnectDelay = TimeSpan.FromMilliseconds(100);
        var running = Task.Run(() => new FirewalldReloadWatch(bus.Address).WatchAsync(heard.Enqueue, stop.Token));
        await SubscribedAsync(bus, heard);

        await Task.Run(bus.Restart);
        await WaitForAsync(heard, 1);
        Assert.Contains("connection is back", Assert.Single(heard), StringComparison.Ordinal);
        heard.Clear();
        await SubscribedAsync(bus, heard); // and it hears firewalld on the new bus

        await stop.CancelAsync();
        await running.WaitAsync(Patience);
        Assert.False(running.IsFaulted);
    }

    [Fact]
    public async Task ABusThatCannotBeReachedFailsTheWatchNamingTheAddress()
    {
        var address = "unix:path=/nonexistent/nwfilter-test-bus";
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => new FirewalldReloadWatch(address).WatchAsync(_ => { }, CancellationToken.None).WaitAsync(Patience));
        Assert.Contains(address, e.Message, StringComparison.Ordinal);
        Assert.Contains("Reloaded", e.Message, StringComparison.Ordinal);
    }
}
