using System.Collections.Concurrent;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Runtime;

/// <summary>
/// The learning service as the runtime runs it for any host: it restores and learns, takes over a binding another
/// process stores, stops learning for a binding removed elsewhere, and on cancellation stops its learners and says so
/// last. Real firewall in a lab namespace; frames from a fake capture.
/// </summary>
[Collection(NetnsCollection.Name)]
public class LearningServiceKernelTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task RestoresTakesOverAndStopsThroughTheHostSeam()
    {
        await using var service = ServiceLab.Create();
        var (lab, runtime, bindings, ns, vm0, vm1) = (service.Lab, service.Runtime, service.Bindings, service.Namespace, service.Lab.Vms[0], service.Lab.Vms[1]);
        bindings.Save(Learning(vm0)); // stored before the service starts: restored and learned
        var host = new QueueHost();
        using var stop = new CancellationTokenSource();

        var running = runtime.HandleAsync(new LearningServiceRequest(), host, stop.Token);

        Assert.Equal(vm0.PortDevice, (await host.NextLearner()).PortDevice);
        Assert.Contains($"learning on {vm0.PortDevice} (any)", (await host.Next(RuntimeEventIds.LearningServiceStarted)).Message, StringComparison.Ordinal);
        Assert.Contains($"-A libvirt-I-{vm0.PortDevice}", lab.Save(), StringComparison.Ordinal);

        bindings.Save(Learning(vm1)); // as another process would: the service takes it over
        Assert.Equal(vm1.PortDevice, (await host.NextLearner()).PortDevice);
        Assert.Contains(vm1.PortDevice, (await host.Next(RuntimeEventIds.LearningTakenOver)).Message, StringComparison.Ordinal);
        Assert.NotNull(runtime.Learners(ns).Get(vm1.PortDevice));

        File.Delete(bindings.PathOf(vm0.PortDevice)); // removed elsewhere: learning on it stops
        Assert.Contains(vm0.PortDevice, (await host.Next(RuntimeEventIds.LearningStoppedBindingRemoved)).Message, StringComparison.Ordinal);
        Assert.Null(runtime.Learners(ns).Get(vm0.PortDevice));

        stop.Cancel();
        var response = await running.WaitAsync(Patience);
        Assert.Equal(1, response.Learners);
        var last = await host.Next(RuntimeEventIds.LearningServiceStopped);
        Assert.Contains("stopped (1 learner(s))", last.Message, StringComparison.Ordinal);
        Assert.Empty(runtime.Learners(ns).Learners);
        Assert.Contains($"-A libvirt-I-{vm1.PortDevice}", lab.Save(), StringComparison.Ordinal); // the rules in force stay
    }

    [SkippableFact]
    public async Task ABindingRemovedWhileAnotherIsTakenOverStillStopsItsLearner()
    {
        // The window CI met once (stop 22, and again in a rehearsal of stop 23): vm0's file is removed after the takeover
        // of vm1 was announced but before the service looked at the store again. The host's own callback removes it, so
        // the removal falls into that window every time; before the fix vm0 kept learning and no event came.
        await using var service = ServiceLab.Create();
        var (_, runtime, bindings, ns, vm0, vm1) = (service.Lab, service.Runtime, service.Bindings, service.Namespace, service.Lab.Vms[0], service.Lab.Vms[1]);
        bindings.Save(Learning(vm0));
        var host = new QueueHost
        {
            OnReport = e =>
            {
                if (e.Id == RuntimeEventIds.LearningTakenOver)
                {
                    File.Delete(bindings.PathOf(vm0.PortDevice));
                }
            },
        };
        using var stop = new CancellationTokenSource();
        var running = runtime.HandleAsync(new LearningServiceRequest(), host, stop.Token);
        Assert.Equal(vm0.PortDevice, (await host.NextLearner()).PortDevice);
        await host.Next(RuntimeEventIds.LearningServiceStarted);

        bindings.Save(Learning(vm1));
        Assert.Contains(vm1.PortDevice, (await host.Next(RuntimeEventIds.LearningTakenOver)).Message, StringComparison.Ordinal);
        Assert.False(File.Exists(bindings.PathOf(vm0.PortDevice)));
        Assert.Contains(vm0.PortDevice, (await host.Next(RuntimeEventIds.LearningStoppedBindingRemoved)).Message, StringComparison.Ordinal);
        Assert.Null(runtime.Learners(ns).Get(vm0.PortDevice));
        Assert.NotNull(runtime.Learners(ns).Get(vm1.PortDevice));

        stop.Cancel();
        Assert.Equal(1, (await running.WaitAsync(Patience)).Learners);
    }

    [SkippableFact]
    public async Task ABindingStoredWhileTheServiceRestoresIsTakenOver()
    {
        // vm1 is stored by another process while the service's own restore runs (the host's callback for vm0's learner
        // stores it, inside that restore): it was not in the store the restore read, and before the fix the service's
        // first scan, taken after the restore, counted it as seen, so it was never learned.
        await using var service = ServiceLab.Create();
        var (lab, runtime, bindings, ns, vm0, vm1) = (service.Lab, service.Runtime, service.Bindings, service.Namespace, service.Lab.Vms[0], service.Lab.Vms[1]);
        bindings.Save(Learning(vm0));
        var host = new QueueHost
        {
            OnLearnerStarted = started =>
            {
                if (started.Learner.PortDevice == vm0.PortDevice)
                {
                    bindings.Save(Learning(vm1));
                }
            },
        };
        using var stop = new CancellationTokenSource();
        var running = runtime.HandleAsync(new LearningServiceRequest(), host, stop.Token);
        Assert.Equal(vm0.PortDevice, (await host.NextLearner()).PortDevice);
        Assert.DoesNotContain(vm1.PortDevice, (await host.Next(RuntimeEventIds.LearningServiceStarted)).Message, StringComparison.Ordinal);

        Assert.Equal(vm1.PortDevice, (await host.NextLearner()).PortDevice);
        Assert.Contains(vm1.PortDevice, (await host.Next(RuntimeEventIds.LearningTakenOver)).Message, StringComparison.Ordinal);
        Assert.NotNull(runtime.Learners(ns).Get(vm1.PortDevice));
        Assert.Contains($"-A libvirt-I-{vm1.PortDevice}", lab.Save(), StringComparison.Ordinal);

        stop.Cancel();
        Assert.Equal(2, (await running.WaitAsync(Patience)).Learners);
    }

    /// <summary>A lab of two VMs, a store of its own and a runtime serving the lab's namespace, the service scanning every 200 ms.</summary>
    private sealed class ServiceLab : IAsyncDisposable
    {
        private readonly TempDirectory _store;

        private ServiceLab(BindingLab lab, TempDirectory store)
        {
            Lab = lab;
            _store = store;
            var location = new StoreLocation(store.Combine("config"), store.Combine("state"));
            Namespace = lab.Lab.HostNamespace;
            Runtime = new NwFilterRuntime(new NwFilterRuntimeOptions
            {
                Location = location,
                DefaultNamespace = Namespace,
                FrameSource = new FakeFrameSource(),
                ServiceScanInterval = TimeSpan.FromMilliseconds(200),
            });
            Bindings = BindingStore.Open(location, Namespace);
        }

        public BindingLab Lab { get; }

        public NwFilterRuntime Runtime { get; }

        /// <summary>The store as another process sees it.</summary>
        public BindingStore Bindings { get; }

        public string Namespace { get; }

        public static ServiceLab Create()
        {
            var lab = BindingLab.Create(vms: 2);
            try
            {
                return new ServiceLab(lab, new TempDirectory("nwfilter-service"));
            }
            catch
            {
                lab.Dispose();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Runtime.DisposeAsync();
            _store.Dispose();
            Lab.Dispose();
        }
    }

    private static Model.FilterBinding Learning(LabVm vm) => Bindings.Create(
        vm.PortDevice, System.Net.NetworkInformation.PhysicalAddress.Parse(vm.Mac.Replace(':', '-').ToUpperInvariant()), "clean-traffic",
        backend: Model.FirewallBackendKind.EbIpTables); // learning is EbIpTables-only until nft-learn lands

    /// <summary>A host that queues what it is told, for the test to wait on.</summary>
    private sealed class QueueHost : IRuntimeHost
    {
        private readonly BlockingCollection<RuntimeEvent> _events = [];
        private readonly BlockingCollection<LearnerStarted> _learners = [];

        /// <summary>Called with each event, on the service's own thread, before it is queued.</summary>
        public Action<RuntimeEvent>? OnReport { get; init; }

        public void Report(RuntimeEvent runtimeEvent)
        {
            Assert.True(runtimeEvent.Level != RuntimeEventLevel.Error, $"{runtimeEvent.Id}: {runtimeEvent.Message}");
            OnReport?.Invoke(runtimeEvent);
            _events.Add(runtimeEvent);
        }

        public void Progress(RuntimeProgress progress)
        {
        }

        /// <summary>Called with each learner started, on the service's own thread, before it is queued.</summary>
        public Action<LearnerStarted>? OnLearnerStarted { get; init; }

        public void LearnerStarted(LearnerStarted started)
        {
            OnLearnerStarted?.Invoke(started);
            _learners.Add(started);
        }

        public bool Confirm(ConfirmationRequest request) => true;

        public Task<LearnerStarted> NextLearner() => Task.Run(() =>
            _learners.TryTake(out var started, Patience) ? started : throw new TimeoutException("no learner started"));

        /// <summary>The next event with <paramref name="id"/> (others before it are passed over).</summary>
        public Task<RuntimeEvent> Next(string id) => Task.Run(() =>
        {
            var until = DateTime.UtcNow + Patience;
            while (_events.TryTake(out var e, until - DateTime.UtcNow > TimeSpan.Zero ? until - DateTime.UtcNow : TimeSpan.Zero))
            {
                if (e.Id == id)
                {
                    return e;
                }
            }
            throw new TimeoutException("no event " + id);
        });
    }
}
