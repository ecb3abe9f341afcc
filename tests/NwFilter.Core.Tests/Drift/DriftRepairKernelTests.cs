using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using System.Text;
using NwFilter.Core.Apply;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using Xunit.Abstractions;

namespace NwFilter.Core.Tests.Drift;

/// <summary>
/// The service repairs drift by itself (docs/design/drift-repair.md): after a flush behind its back, in a namespace
/// with 100 bindings, every port is filtered again (a forged frame is dropped again; the same frame from the unfiltered
/// VM arrives), it logs what it found and repaired, and it does not loop: its own repair makes no second repair, and
/// a drift it cannot repair is given up after one try. Real firewall, real frames.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class DriftRepairKernelTests(ITestOutputHelper output)
{
    private const string Forged = "52:54:00:66:66:66";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [SkippableTheory]
    [InlineData(FirewallBackendKind.Nftables)]
    [InlineData(FirewallBackendKind.EbIpTables)]
    public async Task AFlushOfOneHundredBindingsIsRepairedFromTheKernelsChangeEventsOnceAndLogged(FirewallBackendKind backend)
    {
        using var lab = BindingLab.Create(3);
        await using var service = await Service.StartAsync(lab, backend, extraPorts: 99, interval: TimeSpan.FromHours(1), sources: null);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, Forged));
        Assert.True(lab.Lab.SpoofedMacArrives(vm2, vm1, Forged)); // control: vm2 has no binding

        var flushedAt = Stopwatch.GetElapsedTime(service.Host.StartTimestamp);
        if (backend == FirewallBackendKind.Nftables)
        {
            lab.Lab.RunInHostChecked("nft", "flush", "ruleset");
        }
        else
        {
            lab.Lab.RunInHostChecked("ebtables", "-t", "nat", "-F");
            lab.Lab.RunInHostChecked("iptables", "-F");
            lab.Lab.RunInHostChecked("ip6tables", "-F");
        }
        var flushDone = Stopwatch.GetElapsedTime(service.Host.StartTimestamp);
        var repaired = await service.Host.Next(RuntimeEventIds.DriftRepaired, Patience);
        output.WriteLine($"{backend}: 100 bindings flushed; repaired {(repaired.At - flushDone).TotalMilliseconds:0} ms after the flush command exited " +
            $"({(repaired.At - flushedAt).TotalMilliseconds:0} ms after it started): {repaired.Event.Message}");
        var found = service.Host.Events(RuntimeEventIds.DriftFound).Single();
        Assert.Contains("dv0 (missing)", found.Message, StringComparison.Ordinal);
        Assert.Contains("and 90 more", found.Message, StringComparison.Ordinal); // 100 ports: ten named
        Assert.Contains("Repaired 100 port(s)", repaired.Event.Message, StringComparison.Ordinal);

        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, Forged)); // filtered again
        Assert.True(lab.Lab.SpoofedMacArrives(vm2, vm1, Forged));
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4));
        Assert.All(await service.Manager.TestAsync(), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));

        // Its own repair (and the checks above) changed the ruleset: at most more checks, never a second repair.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Single(service.Host.Events(RuntimeEventIds.DriftFound));
        Assert.Single(service.Host.Events(RuntimeEventIds.DriftRepaired));
        Assert.Empty(service.Host.Events(RuntimeEventIds.DriftRepairGaveUp));
    }

    [SkippableFact]
    public async Task ADriftItCannotRepairIsTriedOnceThenLeftAloneUntilItChanges()
    {
        using var lab = BindingLab.Create(2);
        await using var service = await Service.StartAsync(lab, FirewallBackendKind.Nftables, extraPorts: 1, interval: TimeSpan.FromHours(1), sources: null);
        // A rule of someone else's in NwFilter's own base chain: every port's footprint has it, and re-applying a port
        // does not touch a base chain that exists.
        lab.Lab.RunInHostChecked("nft", "insert", "rule", "bridge", "nwfilter", "prerouting", "meta", "mark", "0x1234", "accept");
        var gaveUp = await service.Host.Next(RuntimeEventIds.DriftRepairGaveUp, Patience);
        Assert.Contains("not re-applied again", gaveUp.Event.Message, StringComparison.Ordinal);
        await Task.Delay(500);
        var found = service.Host.Events(RuntimeEventIds.DriftFound).Count;
        Assert.Equal(1, found); // tried once
        Assert.Single(service.Host.Events(RuntimeEventIds.DriftRepaired));

        // More changes (each one a check): no more repairs of the same drift.
        for (var i = 0; i < 3; i++)
        {
            lab.Lab.RunInHostChecked("nft", "add", "table", "inet", "someone-else");
            lab.Lab.RunInHostChecked("nft", "delete", "table", "inet", "someone-else");
            await Task.Delay(300);
        }
        Assert.Equal(found, service.Host.Events(RuntimeEventIds.DriftFound).Count);
        Assert.Single(service.Host.Events(RuntimeEventIds.DriftRepaired));
        Assert.True(service.Host.Events(RuntimeEventIds.DriftChecked).Count >= 3);

        // When the drift changes (everything flushed, the foreign rule with it), it is tried again.
        lab.Lab.RunInHostChecked("nft", "flush", "ruleset");
        for (var i = 0; i < 200 && service.Host.Events(RuntimeEventIds.DriftRepaired).Count < 2; i++)
        {
            await Task.Delay(100);
        }
        Assert.Equal(2, service.Host.Events(RuntimeEventIds.DriftRepaired).Count);
        Assert.False(lab.Lab.SpoofedMacArrives(lab.Vms[0], lab.Vms[1], Forged));
    }

    [SkippableFact]
    public async Task WithoutChangeEventsAnotherSourceOrThePeriodicCheckRepairs()
    {
        using var lab = BindingLab.Create(2);
        var source = new ManualSource();
        await using (var service = await Service.StartAsync(lab, FirewallBackendKind.Nftables, extraPorts: 0, interval: TimeSpan.FromHours(1), sources: [source]))
        {
            lab.Lab.RunInHostChecked("nft", "flush", "ruleset");
            await Task.Delay(1000);
            Assert.Empty(service.Host.Events(RuntimeEventIds.DriftFound)); // no kernel events here: nothing noticed yet
            source.Fire("firewalld: Reloaded"); // what a firewalld source would signal
            var repaired = await service.Host.Next(RuntimeEventIds.DriftRepaired, Patience);
            Assert.Contains("firewalld: Reloaded", service.Host.Events(RuntimeEventIds.DriftFound).Single().Message, StringComparison.Ordinal);
            Assert.False(lab.Lab.SpoofedMacArrives(lab.Vms[0], lab.Vms[1], Forged));
            _ = repaired;
        }
        await using (var service = await Service.StartAsync(lab, FirewallBackendKind.Nftables, extraPorts: 0, interval: TimeSpan.FromMilliseconds(500), sources: []))
        {
            lab.Lab.RunInHostChecked("nft", "flush", "ruleset");
            await service.Host.Next(RuntimeEventIds.DriftRepaired, Patience);
            Assert.Contains("the periodic check", service.Host.Events(RuntimeEventIds.DriftFound).Single().Message, StringComparison.Ordinal);
            Assert.False(lab.Lab.SpoofedMacArrives(lab.Vms[0], lab.Vms[1], Forged));
        }
    }

    [SkippableFact]
    public async Task FirewalldsReloadedSignalOnDBusMakesTheServiceRepairAndLog()
    {
        using var bus = PrivateDBus.Start();
        using var lab = BindingLab.Create(2);
        var watch = new FirewalldReloadWatch(bus.Address);
        await using var service = await Service.StartAsync(lab, FirewallBackendKind.Nftables, extraPorts: 0, interval: TimeSpan.FromHours(1), sources: [watch]);
        // The watch subscribes as it starts: a signal it must hear proves it listens (one check, nothing drifted).
        for (var attempt = 0; attempt < 50 && service.Host.Events(RuntimeEventIds.DriftChecked).Count == 0; attempt++)
        {
            await bus.EmitAsync();
            await Task.Delay(200);
        }
        Assert.NotEmpty(service.Host.Events(RuntimeEventIds.DriftChecked));
        Assert.Empty(service.Host.Events(RuntimeEventIds.DriftFound));
        Assert.Contains("firewalld's Reloaded signal", service.Host.Events(RuntimeEventIds.DriftRepairStarted).Single().Message, StringComparison.Ordinal);

        // What firewalld's reload does to foreign tables: gone, and no nf_tables event source is listening here.
        lab.Lab.RunInHostChecked("nft", "flush", "ruleset");
        await Task.Delay(1000);
        Assert.Empty(service.Host.Events(RuntimeEventIds.DriftFound));
        Assert.True(lab.Lab.SpoofedMacArrives(lab.Vms[0], lab.Vms[1], Forged), "unfiltered after the flush");
        await bus.EmitAsync(); // the fake firewalld: Reloaded
        await service.Host.Next(RuntimeEventIds.DriftRepaired, Patience);
        Assert.Contains("firewalld reloaded", service.Host.Events(RuntimeEventIds.DriftFound).Single().Message, StringComparison.Ordinal);
        Assert.False(lab.Lab.SpoofedMacArrives(lab.Vms[0], lab.Vms[1], Forged));
        Assert.True(lab.Lab.SpoofedMacArrives(lab.Vms[1], lab.Vms[0], Forged), "control: the forgery from the unfiltered VM arrives");
    }

    /// <summary>The runtime's service over the lab: vm0 bound with clean-traffic, plus <c>extraPorts</c> dummy ports bound too.</summary>
    private sealed class Service : IAsyncDisposable
    {
        private readonly TempDirectory _store;
        private readonly NwFilterRuntime _runtime;
        private readonly CancellationTokenSource _stop = new();
        private Task? _service;

        private Service(TempDirectory store, NwFilterRuntime runtime, BindingManager manager)
        {
            (_store, _runtime, Manager) = (store, runtime, manager);
        }

        public TimedHost Host { get; } = new();

        public BindingManager Manager { get; }

        public static async Task<Service> StartAsync(BindingLab lab, FirewallBackendKind backend, int extraPorts, TimeSpan interval, IReadOnlyList<IRulesetChangeSource>? sources)
        {
            var ns = lab.Lab.HostNamespace;
            if (extraPorts > 0)
            {
                var batch = new StringBuilder();
                for (var i = 0; i < extraPorts; i++)
                {
                    batch.Append(CultureInfo.InvariantCulture, $"link add dv{i} type veth peer name dp{i}\n");
                }
                var added = await ProcessRunner.Default.RunAsync(new ProcessRequest("ip", "-n", ns, "-batch", "-") { StandardInput = batch.ToString() });
                added.EnsureSuccess();
            }
            var store = new TempDirectory("nwfilter-repair");
            var runtime = new NwFilterRuntime(new NwFilterRuntimeOptions
            {
                Location = new StoreLocation(store.Combine("config"), store.Combine("state")),
                DefaultNamespace = ns,
                FrameSource = new FakeFrameSource(),
                DriftCheckInterval = interval,
                RulesetChangeSources = sources is null ? null : _ => sources,
            });
            var manager = runtime.Manager(ns);
            var bindings = new List<FilterBinding> { BindingLab.CleanTraffic(lab.Vms[0]) with { Backend = backend } };
            for (var i = 0; i < extraPorts; i++)
            {
                bindings.Add(new FilterBinding($"dv{i}", new PhysicalAddress([0x52, 0x54, 0x00, 0x10, 0, (byte)i]), "clean-traffic")
                {
                    OwnerName = $"dv{i}",
                    Backend = backend,
                    Parameters = ParameterSet.Empty.With("IP", string.Create(CultureInfo.InvariantCulture, $"10.214.0.{i + 1}")),
                });
            }
            var applied = await manager.ApplyAsync(bindings);
            Assert.All(applied.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
            var service = new Service(store, runtime, manager);
            service._service = runtime.HandleAsync(new LearningServiceRequest(ns), service.Host, service._stop.Token);
            await service.Host.Next(RuntimeEventIds.DriftRepairStarted, Patience);
            // The monitor subscribes as it starts: a change it must see proves it listens (one check, nothing drifted).
            if (sources is null)
            {
                for (var attempt = 0; attempt < 50 && service.Host.Events(RuntimeEventIds.DriftChecked).Count == 0; attempt++)
                {
                    lab.Lab.RunInHostChecked("nft", "add", "table", "inet", "nwfilter-test-probe");
                    lab.Lab.RunInHostChecked("nft", "delete", "table", "inet", "nwfilter-test-probe");
                    await Task.Delay(200);
                }
                Assert.NotEmpty(service.Host.Events(RuntimeEventIds.DriftChecked));
                Assert.Empty(service.Host.Events(RuntimeEventIds.DriftFound));
            }
            return service;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            if (_service is not null)
            {
                await _service.WaitAsync(Patience);
            }
            await _runtime.DisposeAsync();
            _store.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>A host that keeps every event with the time it came.</summary>
    private sealed class TimedHost : IRuntimeHost
    {
        private readonly ConcurrentQueue<(TimeSpan At, RuntimeEvent Event)> _events = new();
        private readonly SemaphoreSlim _added = new(0);

        public long StartTimestamp { get; } = Stopwatch.GetTimestamp();

        public List<RuntimeEvent> Events(string id) => [.. _events.Where(e => e.Event.Id == id).Select(e => e.Event)];

        public async Task<(TimeSpan At, RuntimeEvent Event)> Next(string id, TimeSpan patience)
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                if (_events.FirstOrDefault(e => e.Event.Id == id) is { Event: not null } hit)
                {
                    return hit;
                }
                var left = patience - deadline.Elapsed;
                Assert.True(left > TimeSpan.Zero, $"no {id} event within {patience}; events: {string.Join(" | ", _events.Select(e => $"{e.Event.Id}: {e.Event.Message}"))}");
                await _added.WaitAsync(left);
            }
        }

        public void Report(RuntimeEvent runtimeEvent)
        {
            _events.Enqueue((Stopwatch.GetElapsedTime(StartTimestamp), runtimeEvent));
            _added.Release();
        }

        public void Progress(RuntimeProgress progress)
        {
        }

        public void LearnerStarted(LearnerStarted started)
        {
        }

        public bool Confirm(ConfirmationRequest request) => true;
    }

    /// <summary>A change source fired by the test (what a firewalld Reloaded watcher would be).</summary>
    private sealed class ManualSource : IRulesetChangeSource
    {
        private Action<string>? _changed;

        public string Name => "manual";

        public void Fire(string what) => _changed?.Invoke(what);

        public async Task WatchAsync(Action<string> changed, CancellationToken cancellationToken)
        {
            _changed = changed;
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
