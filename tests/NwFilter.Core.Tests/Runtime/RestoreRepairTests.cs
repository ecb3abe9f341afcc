using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Runtime;

/// <summary>
/// A restore says what it repaired (issue 11, crash at any point): one port in force, one whose stored binding names
/// another filter than its kernel rules (a crash after the store was written, before the kernel changed), one whose
/// rules are gone (a flush), and chains of a port without a binding (a crash after the kernel changed, before its file
/// was removed). The response's Repairs and the host's BindingRepaired events name each port, what was found and what
/// was done; afterwards the drift check finds every port in sync and no orphan.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class RestoreRepairTests
{
    [SkippableTheory]
    [InlineData(FirewallBackendKind.Nftables)]
    [InlineData(FirewallBackendKind.EbIpTables)]
    public async Task RestoreReportsPerPortWhatItFoundAndWhatItDid(FirewallBackendKind backend)
    {
        using var lab = NetnsLab.Create(1);
        using var dir = new TempDirectory("nwfilter-repair");
        var location = new StoreLocation(dir.Combine("config"), dir.Combine("state"));
        var ns = lab.HostNamespace;
        await using var runtime = new NwFilterRuntime(new NwFilterRuntimeOptions { Location = location, DefaultNamespace = ns });
        FilterBinding Binding(string port, int i, string filter = "no-mac-spoofing") =>
            Bindings.Create(port, PhysicalAddress.Parse($"52-54-00-00-07-{i:X2}"), filter, backend: backend);
        var (a, b, c) = (Binding("rpa", 1), Binding("rpb", 2), Binding("rpc", 3));
        var applied = await runtime.HandleAsync(new ApplyBindingsRequest([a, b, c]), new RecordingRuntimeHost());
        Assert.True(applied.Succeeded);

        // b: its file now names allow-arp, the kernel still has no-mac-spoofing.
        BindingStore.Open(location, ns).Save(Binding("rpb", 2, "allow-arp"));
        // c: its rules removed behind the store's back; d: rules of a port the store does not know.
        using var scratch = new TempDirectory("nwfilter-repair-other");
        var other = new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = ns,
            HostRunner = lab.HostRunner,
            Filters = new InMemoryFilterSource(BuiltInFilters.All),
            Store = new BindingStore(scratch.Combine("bindings"), ns),
        });
        other.Store.SaveAll([a, b, c]);
        Assert.All((await other.RemoveAsync(["rpc"])).Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        Assert.All((await other.ApplyAsync([Binding("rpd", 4)])).Items, i => Assert.True(i.Succeeded, i.Error?.Message));

        var host = new RecordingRuntimeHost();
        var restored = await runtime.HandleAsync(new RestoreBindingsRequest(), host);
        Assert.True(restored.Succeeded);
        var repairs = restored.Repairs.ToDictionary(r => r.PortDevice, StringComparer.Ordinal);
        Assert.Equal(["rpa", "rpb", "rpc", "rpd"], repairs.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((BindingDriftStatus.InSync, false), (repairs["rpa"].Found, repairs["rpa"].Repaired));
        Assert.Equal((BindingDriftStatus.Drifted, true, "allow-arp"), (repairs["rpb"].Found, repairs["rpb"].Repaired, repairs["rpb"].Filter));
        Assert.True(repairs["rpb"].MissingRules > 0 && repairs["rpb"].UnexpectedRules > 0, repairs["rpb"].ToString());
        Assert.Equal((BindingDriftStatus.Missing, true), (repairs["rpc"].Found, repairs["rpc"].Repaired));
        Assert.Equal((BindingDriftStatus.Orphaned, true, "removed its chains"), (repairs["rpd"].Found, repairs["rpd"].Repaired, repairs["rpd"].Done));
        Assert.StartsWith("re-applied filter 'allow-arp'", repairs["rpb"].Done, StringComparison.Ordinal);

        // The host is told: information for each repaired port, verbose for the one found in force.
        var events = host.Events.Where(e => e.Id == RuntimeEventIds.BindingRepaired).ToList();
        Assert.Equal(["rpb", "rpc", "rpd"], events.Where(e => e.Level == RuntimeEventLevel.Information).Select(e => e.Message.Split(':')[0]).Order(StringComparer.Ordinal));
        Assert.Equal(["rpa"], events.Where(e => e.Level == RuntimeEventLevel.Verbose).Select(e => e.Message.Split(':')[0]));
        Assert.Contains(events, e => e.Message.StartsWith("rpc: found no rules in the kernel", StringComparison.Ordinal));

        var status = await runtime.HandleAsync(new BindingStatusRequest(TestDrift: true), host);
        Assert.All(status.Drift, d => Assert.True(d.InSync, $"{d.PortDevice}: {d.Status}"));
        Assert.Equal(["rpa", "rpb", "rpc"], status.Drift.Select(d => d.PortDevice).Order(StringComparer.Ordinal));

        // A second restore finds everything in force: nothing to repair.
        var again = await runtime.HandleAsync(new RestoreBindingsRequest(), host);
        Assert.All(again.Repairs, r => Assert.Equal(BindingDriftStatus.InSync, r.Found));
    }
}
