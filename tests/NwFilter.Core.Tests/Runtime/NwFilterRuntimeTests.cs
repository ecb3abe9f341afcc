using System.Collections.Concurrent;
using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
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

    public NwFilterRuntimeTests() =>
        _runtime = new NwFilterRuntime(new NwFilterRuntimeOptions { Location = new StoreLocation(_dir.Combine("config"), _dir.Combine("state")) });

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
        var host = new RecordingHost();
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
        var binding = Bindings.Create("vnet0", PhysicalAddress.Parse("52-54-00-00-00-01"), "allow-arp");
        _runtime.Manager("lab4").Store.Save(binding);
        Assert.Single(_runtime.Manager("lab4").Store.List().Bindings);
        var host = new RecordingHost { Answer = false };

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
        _runtime.Manager("lab5").Store.Save(Bindings.Create("vnet0", PhysicalAddress.Parse("52-54-00-00-00-01"), "allow-arp"));

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

    private sealed class RecordingHost : IRuntimeHost
    {
        public bool Answer { get; init; } = true;

        public ConcurrentQueue<RuntimeEvent> EventQueue { get; } = new();

        public List<RuntimeEvent> Events => [.. EventQueue];

        public List<ConfirmationRequest> Confirmations { get; } = [];

        public void Report(RuntimeEvent runtimeEvent) => EventQueue.Enqueue(runtimeEvent);

        public void Progress(RuntimeProgress progress)
        {
        }

        public void LearnerStarted(LearnerStarted started)
        {
        }

        public bool Confirm(ConfirmationRequest request)
        {
            Confirmations.Add(request);
            return Answer;
        }
    }
}
