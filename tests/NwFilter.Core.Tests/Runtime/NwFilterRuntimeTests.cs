using System.Collections.Concurrent;
using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Runtime;

/// <summary>The runtime's ownership, its host seam and its request handlers, without touching a firewall.</summary>
public sealed class NwFilterRuntimeTests : IAsyncDisposable
{
    private readonly TempDirectory _dir = new("nwfilter-runtime");
    private readonly NwFilterRuntime _runtime;

    // The namespaces of these tests (lab3, lab4, ...) are names only: the probe says they exist, and no tool runs.
    public NwFilterRuntimeTests() =>
        _runtime = new NwFilterRuntime(new NwFilterRuntimeOptions
        {
            Location = new StoreLocation(_dir.Combine("config"), _dir.Combine("state")),
            NamespaceProbe = _ => true,
            InterfaceProbe = (_, _) => Task.FromResult<IReadOnlySet<string>?>(new HashSet<string> { "vnet0", "vnet1" }),
        });

    /// <summary>A runtime on the same store whose probes say what a test needs, and whose runner records every program.</summary>
    private NwFilterRuntime Probed(RecordingRunner runner, bool namespaceExists = true, bool mayChange = true, params string[] interfaces) =>
        new(new NwFilterRuntimeOptions
        {
            Location = _runtime.Location,
            Runner = runner,
            NamespaceProbe = _ => namespaceExists,
            PrivilegeProbe = () => mayChange,
            InterfaceProbe = (_, _) => Task.FromResult<IReadOnlySet<string>?>(interfaces.ToHashSet()),
        });

    [Fact]
    public async Task ANamespaceThatDoesNotExistIsRefusedBeforeAnythingElseAndLeavesNoLockFile()
    {
        var runner = new RecordingRunner();
        var runtime = Probed(runner, namespaceExists: false);
        var host = new RecordingRuntimeHost();
        var binding = Bindings.Create("vnet0", PhysicalAddress.Parse("52-54-00-00-00-01"), "allow-arp", backend: FirewallBackendKind.EbIpTables);

        var applied = await runtime.HandleAsync(new ApplyBindingsRequest([binding], "labx"), host);
        var removed = await runtime.HandleAsync(new RemoveBindingsRequest(["vnet0"], "labx"), host);
        var restored = await runtime.HandleAsync(new RestoreBindingsRequest(null, "labx"), host);
        var tested = await runtime.HandleAsync(new BindingStatusRequest(null, "labx", TestDrift: true), host);

        var error = Assert.Single(applied.Items).Error!.Primary;
        Assert.Equal((RuntimeCodes.NetworkNamespaceNotFound, DiagnosticCategory.ObjectNotFound), (error.Code, error.Category));
        Assert.StartsWith("There is no network namespace named 'labx'", error.Message, StringComparison.Ordinal);
        Assert.Equal(RuntimeCodes.NetworkNamespaceNotFound, Assert.Single(removed.Items).Error!.Primary.Code);
        Assert.Empty(restored.Items);
        Assert.Equal(RuntimeCodes.NetworkNamespaceNotFound, Assert.Single(tested.Problems).Code);
        Assert.Equal(3, host.Events.Count(e => e.Id == RuntimeCodes.NetworkNamespaceNotFound));
        Assert.Empty(host.Confirmations); // asked nothing, planned nothing
        Assert.Empty(runner.Programs);
        Assert.False(Directory.Exists(_dir.Combine("state", BindingStore.NamespacesDirectoryName, "labx")), "no folder and no lock file for a namespace that does not exist");
    }

    [Fact]
    public async Task WithoutCapNetAdminAChangeIsRefusedAsPermissionDeniedBeforeAnyToolRuns()
    {
        var runner = new RecordingRunner();
        var runtime = Probed(runner, mayChange: false, interfaces: "vnet0");
        var host = new RecordingRuntimeHost(); // says yes to everything, without looking at the plan
        var binding = Bindings.Create("vnet0", PhysicalAddress.Parse("52-54-00-00-00-01"), "allow-arp", backend: FirewallBackendKind.EbIpTables);
        runtime.Manager("lab8").Store.Save(Bindings.Create("vnet3", PhysicalAddress.Parse("52-54-00-00-00-03"), "allow-arp", backend: FirewallBackendKind.EbIpTables));

        var applied = await runtime.HandleAsync(new ApplyBindingsRequest([binding], "lab8"), host);
        var removed = await runtime.HandleAsync(new RemoveBindingsRequest(["vnet3"], "lab8"), host);
        var restored = await runtime.HandleAsync(new RestoreBindingsRequest(null, "lab8"), host);

        foreach (var item in applied.Items.Concat(removed.Items).Concat(restored.Items))
        {
            var error = item.Error!.Primary;
            Assert.Equal((RuntimeCodes.FirewallNeedsRoot, DiagnosticCategory.PermissionDenied), (error.Code, error.Category));
            Assert.StartsWith("Changing the firewall needs root (CAP_NET_ADMIN)", error.Message, StringComparison.Ordinal);
        }
        Assert.Equal(3, applied.Items.Length + removed.Items.Length + restored.Items.Length);
        Assert.Empty(runner.Programs);
        Assert.Equal(["vnet3"], runtime.Manager("lab8").Store.List().Bindings.Select(b => b.PortDevice)); // nothing stored, nothing removed
    }

    [Fact]
    public async Task APortDeviceThatIsNoInterfaceIsWarnedAbout()
    {
        var runtime = Probed(new RecordingRunner(), interfaces: "vnet1");
        var host = new RecordingRuntimeHost { Answer = false };
        var typo = Bindings.Create("vent0", PhysicalAddress.Parse("52-54-00-00-00-01"), "allow-arp", backend: FirewallBackendKind.EbIpTables);
        var present = Bindings.Create("vnet1", PhysicalAddress.Parse("52-54-00-00-00-02"), "allow-arp", backend: FirewallBackendKind.EbIpTables);

        await runtime.HandleAsync(new ApplyBindingsRequest([typo, present], "lab9"), host);

        var warning = Assert.Single(host.Events, e => e.Level == RuntimeEventLevel.Warning);
        Assert.Equal((RuntimeCodes.PortDeviceNotFound, "vent0", "lab9"), (warning.Id, warning.Target, warning.NetworkNamespace));
        Assert.Contains("There is no interface 'vent0' in network namespace lab9", warning.Message, StringComparison.Ordinal);
        Assert.Equal(2, host.Confirmations.Count); // a warning, not a refusal: bindings may be made before their port
    }

    [Fact]
    public void ReadsTheInterfaceNamesOfIpLinkShow()
    {
        var names = RuntimeChecks.ParseLinks(
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n" +
            "5: vnet0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns vm0\n");
        Assert.Equal(["lo", "vnet0"], names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void KnowsWhetherThisProcessHasCapNetAdmin()
    {
        var capEff = File.ReadLines("/proc/self/status").Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal))[7..].Trim();
        var expected = (Convert.ToUInt64(capEff, 16) & (1UL << 12)) != 0;
        Assert.Equal(expected, RuntimeChecks.HasNetAdmin());
    }

    public async ValueTask DisposeAsync()
    {
        await _runtime.DisposeAsync();
        _dir.Dispose();
    }

    private static FilterDefinition Filter(string name, int priority, params string[] refs) =>
        new(name)
        {
            Entries =
            [
                .. refs.Select(r => (FilterEntry)new FilterReference(r)),
                new FilterRule(RuleAction.Accept, RuleDirection.In, ProtocolKind.None) { Priority = priority },
            ],
        };

    [Fact]
    public void KeepsOneManagerAndOneLearnerRegistryPerNamespace()
    {
        Assert.Same(_runtime.Manager(null), _runtime.Manager(null));
        Assert.Same(_runtime.Manager("lab1"), _runtime.Manager("lab1"));
        Assert.NotSame(_runtime.Manager(null), _runtime.Manager("lab1"));
        Assert.Same(_runtime.Learners("lab1"), _runtime.Manager("lab1").Learners);
        Assert.Same(_runtime.Filters, _runtime.Manager("lab1").Filters);
        Assert.Equal("lab1", _runtime.Manager("lab1").NetworkNamespace);
        Assert.StartsWith(_dir.Combine("state"), _runtime.Manager("lab1").Store.Directory, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesAnInvalidNamespaceName()
    {
        var e = Assert.Throws<NwFilterException>(() => _runtime.Manager("-bad"));
        Assert.Equal(ApplyCodes.InvalidNetworkNamespace, e.Primary.Code);
    }

    [Fact]
    public void ARequestWithoutANamespaceMeansTheDefaultOne()
    {
        var runtime = new NwFilterRuntime(new NwFilterRuntimeOptions { Location = _runtime.Location, DefaultNamespace = "lab2" });
        Assert.Equal("lab2", runtime.Namespace(null));
        Assert.Equal("lab2", runtime.Namespace(""));
        Assert.Equal("other", runtime.Namespace("other"));
        Assert.Equal("lab2", runtime.Manager(null).NetworkNamespace);
        Assert.Null(_runtime.Namespace(null));
    }

    [Fact]
    public void FindsTheNamespacesThatHaveBindings()
    {
        Assert.Empty(_runtime.NamespacesWithBindings());
        Directory.CreateDirectory(_dir.Combine("state", BindingStore.NamespacesDirectoryName, "zeta"));
        Directory.CreateDirectory(_dir.Combine("state", BindingStore.NamespacesDirectoryName, "alpha"));
        Directory.CreateDirectory(_dir.Combine("state", BindingStore.NamespacesDirectoryName, "-option")); // not a namespace name
        Assert.Equal(["alpha", "zeta"], _runtime.NamespacesWithBindings());
        Directory.CreateDirectory(_dir.Combine("state", BindingStore.DirectoryName));
        Assert.Equal([null, "alpha", "zeta"], _runtime.NamespacesWithBindings());
        Assert.True(NwFilterRuntime.NamespaceExists(null));
        Assert.False(NwFilterRuntime.NamespaceExists("nwfilter-surely-not-" + Guid.NewGuid().ToString("N")[..8]));
    }

    [Fact]
    public async Task DefinesTheDocumentsOfARequestAllOrNone()
    {
        await _runtime.HandleAsync(new DefineFiltersRequest([Filter("a", 100)]), SilentRuntimeHost.Instance);
        var response = await _runtime.HandleAsync(new DefineFiltersRequest([Filter("a", 300, "b"), Filter("b", 100, "a")]), SilentRuntimeHost.Instance);

        Assert.False(response.Succeeded);
        Assert.Equal(StoreCodes.FilterLoop, response.Error!.Primary.Code);
        Assert.All(response.Items, i => Assert.Same(response.Error, i.Error));
        Assert.Equal(100, Assert.IsType<FilterRule>(Assert.Single(_runtime.Filters.Get("a")!.Definition.Entries)).Priority);
        Assert.Null(_runtime.Filters.Get("b"));
    }

    [Fact]
    public async Task DefinesEachFilterAloneWhenAskedTo()
    {
        var response = await _runtime.HandleAsync(new DefineFiltersRequest([Filter("a", 100), Filter("../bad", 100)], AllOrNothing: false), SilentRuntimeHost.Instance);
        Assert.Null(response.Error);
        Assert.True(response.Items[0].Succeeded);
        Assert.Equal(StoreCodes.InvalidFilterName, response.Items[1].Error!.Primary.Code);
        Assert.NotNull(_runtime.Filters.Get("a"));
    }

    [Fact]
    public async Task UndefiningAFilterThatDoesNotExistIsAnError()
    {
        var response = await _runtime.HandleAsync(new UndefineFilterRequest("nothing-here"), SilentRuntimeHost.Instance);
        Assert.Equal(StoreCodes.FilterNotFound, response.Error!.Primary.Code);
        Assert.Null(response.Result);
    }

    [Fact]
    public async Task ReportsEachRefusedBindingToTheHostBeforeAnythingRuns()
    {
        var host = new RecordingRuntimeHost();
        var unknown = new FilterBinding("vnet0", PhysicalAddress.Parse("52-54-00-00-00-01"), "no-such-filter");
        var badMac = new FilterBinding("vnet1", PhysicalAddress.Parse("52-54-00-00"), "clean-traffic");

        var response = await _runtime.HandleAsync(new ApplyBindingsRequest([unknown, badMac], "lab3"), host);

        Assert.Equal(["vnet0", "vnet1"], response.Items.Select(i => i.PortDevice));
        Assert.All(response.Items, i => Assert.False(i.Succeeded));
        Assert.Null(response.Execution); // nothing was confirmed, so nothing ran
        Assert.Empty(host.Confirmations);
        Assert.Equal([("vnet0", "FilterNotFound"), ("vnet1", "InvalidMacAddress")],
            host.Events.Where(e => e.Level == RuntimeEventLevel.Error).Select(e => (e.Target!, e.Id)));
        Assert.Empty(_runtime.Manager("lab3").Store.List().Bindings);
    }

    [Fact]
    public async Task ADecliningHostChangesNothing()
    {
        var binding = Bindings.Create("vnet0", PhysicalAddress.Parse("52-54-00-00-00-01"), "allow-arp", backend: FirewallBackendKind.EbIpTables);
        _runtime.Manager("lab4").Store.Save(binding);
        Assert.Single(_runtime.Manager("lab4").Store.List().Bindings);
        var host = new RecordingRuntimeHost { Answer = false };

        var removed = await _runtime.HandleAsync(new RemoveBindingsRequest(["vnet0"], "lab4"), host);
        var restored = await _runtime.HandleAsync(new RestoreBindingsRequest(null, "lab4"), host);

        Assert.Empty(removed.Items);
        Assert.Empty(restored.Items);
        Assert.Null(removed.Execution);
        Assert.Equal(["Remove the binding and rules of port vnet0 in network namespace lab4.", "Re-apply filter 'allow-arp' on port vnet0 in network namespace lab4"],
            host.Confirmations.Select(c => c.Description ?? $"{c.Action} on {c.Target}"));
        Assert.NotNull(host.Confirmations[0].Plan); // a -WhatIf host could show the removal script
        Assert.Equal("vnet0", Assert.Single(_runtime.Manager("lab4").Store.List().Bindings).PortDevice);
    }

    [Fact]
    public async Task StatusListsTheStoredBindingsAndNamesThoseMissing()
    {
        _runtime.Manager("lab5").Store.Save(Bindings.Create("vnet0", PhysicalAddress.Parse("52-54-00-00-00-01"), "allow-arp", backend: FirewallBackendKind.EbIpTables));

        var all = await _runtime.HandleAsync(new BindingStatusRequest(null, "lab5"), SilentRuntimeHost.Instance);
        var some = await _runtime.HandleAsync(new BindingStatusRequest(["vnet0", "vnet9"], "lab5"), SilentRuntimeHost.Instance);

        Assert.Equal("vnet0", Assert.Single(all.Bindings).Binding.PortDevice);
        Assert.Null(all.Bindings[0].Learning); // allow-arp does not learn an address
        Assert.Empty(all.Problems);
        Assert.Empty(all.Drift);
        Assert.Equal("vnet0", Assert.Single(some.Bindings).Binding.PortDevice);
        var missing = Assert.Single(some.Problems);
        Assert.Equal((ApplyCodes.BindingNotFound, "vnet9"), (missing.Code, missing.Value));
    }

    private sealed class RecordingRunner : IProcessRunner
    {
        public ConcurrentQueue<string> Programs { get; } = new();

        public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
        {
            Programs.Enqueue(request.ToString());
            return Task.FromResult(new ProcessResult(request, 1, "", "not run in this test", TimeSpan.Zero));
        }
    }
}
