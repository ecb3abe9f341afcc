using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// The applier driven in-process through libnftables (a context on a thread inside the lab's host namespace): the same
/// scripts, the same packets, the same all-or-nothing failure with the failing line named.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class LibNftablesRunnerTests
{
    [SkippableFact]
    public void TheInProcessApplierFiltersLikeNftAndFailsAllOrNothingNamingTheLine()
    {
        Requirement.Require("libnftables", LibNftablesRunner.IsAvailable, "libnftables.so.1 is not installed");
        using var lab = NftLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        using var runner = new LibNftablesRunner(lab.Lab.HostNamespace);
        var applier = new NftablesApplier(runner);

        var first = applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "test-eth0"))]).GetAwaiter().GetResult();
        Assert.Equal(2, first.ProcessLaunches); // the listing and the transaction, both in-process
        Assert.Contains("vnet0/1/1/FI", lab.Ruleset(), StringComparison.Ordinal);
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 22), "TCP 22 reaches the VM");
        Assert.False(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080, TimeSpan.FromSeconds(1)), "TCP 8080 does not");
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), "the VM pings out");

        // The listing through the library equals nft's own.
        Assert.Equal(lab.State().Ports["vnet0"].Single().Chains.Order(), applier.ReadStateAsync().GetAwaiter().GetResult().Ports["vnet0"].Single().Chains.Order());

        // A failing last line: nothing changes, and the error names the line (a memfd path, not a buffer).
        var before = lab.Ruleset();
        var good = applier.PlanAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "clean-traffic"))]).GetAwaiter().GetResult();
        var bad = good with { Statements = good.Statements.Add("delete chain bridge nwfilter no/1/1/I") };
        var e = Assert.Throws<NwFilterException>(() => applier.RunScriptAsync(bad, check: false).GetAwaiter().GetResult());
        Assert.Equal(bad.Statements.Length, e.Primary.Line);
        Assert.Equal(before, lab.Ruleset());
        applier.CheckAsync(good).GetAwaiter().GetResult();
        Assert.Equal(before, lab.Ruleset());
        // The library's cache takes in what a dry run or a failed transaction did; the runner starts a fresh context
        // after either, so the next real transaction (which deletes the inet table the check "deleted") still commits.

        var replaced = applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "clean-traffic"))]).GetAwaiter().GetResult();
        Assert.Equal(1, replaced.ProcessLaunches);
        Assert.DoesNotContain("table inet nwfilter", lab.Ruleset(), StringComparison.Ordinal);
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "clean-traffic lets TCP 8080 in");

        applier.RemoveAsync(["vnet0"]).GetAwaiter().GetResult();
        Assert.DoesNotContain("nwfilter", lab.Ruleset(), StringComparison.Ordinal);
    }
}
