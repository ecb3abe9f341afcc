using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// The held context's netlink batch (docs/design/nftables.md 7.2): a per-port script committed as our own nf_tables
/// batch, its rules compiled by libnftables in a scratch namespace, leaves exactly what libnftables would, filters
/// real packets, and a batch the kernel refuses falls back to libnftables, which names the statement.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class NftNetlinkBatchTests
{
    [Fact]
    public void OnlyPerPortStatementsAreCarriedAndKeysAreEncodedAsNftSendsThem()
    {
        var ops = NftNetlinkBatch.Parse(
            "create chain bridge nwfilter vnet0/1/2/I\n" +
            "add rule bridge nwfilter vnet0/1/2/I ether type 0x8035 @nh,48,16 3 accept comment \"nwf:1 500 x\"\n" +
            "add element bridge nwfilter from-vm { \"vnet0\" : jump vnet0/1/2/I }\n" +
            "delete element inet nwfilter forward-to-vm { 0x00010000 }\n" +
            "delete chain bridge nwfilter vnet0/1/1/I\n");
        Assert.NotNull(ops);
        Assert.Equal([1, 2, 3, 4, 5], ops.Select(o => o.Line));
        var element = Assert.IsType<NftNetlinkBatch.Element>(ops[2]);
        Assert.Equal([.. "vnet0"u8.ToArray(), .. new byte[11]], element.Key); // IFNAMSIZ, zero-padded
        Assert.Equal(-3, element.Verdict); // NFT_JUMP
        Assert.Equal([0, 0, 1, 0], Assert.IsType<NftNetlinkBatch.Element>(ops[3]).Key); // a mark in host (little-endian) order
        // The scaffold, a set in a rule, a named set, a base chain: not carried (libnftables runs such a script).
        Assert.Null(NftNetlinkBatch.Parse("add table bridge nwfilter\n"));
        Assert.Null(NftNetlinkBatch.Parse("add rule bridge nwfilter vnet0/1/2/I icmpv6 type . icmpv6 code != { 1-2 . 0-255 } drop\n"));
        Assert.Null(NftNetlinkBatch.Parse("add rule bridge nwfilter vnet0/1/2/I ip saddr @blocked drop\n"));
        Assert.Null(NftNetlinkBatch.Parse("add rule bridge nwfilter prerouting iifname vmap @from-vm\n"));
        Assert.Null(NftNetlinkBatch.Parse("delete table inet nwfilter\n"));
    }

    [SkippableFact]
    public void APortChangeThroughTheBatchLeavesWhatLibnftablesLeavesAndFiltersRealPackets()
    {
        Requirement.Require("libnftables", LibNftablesRunner.IsAvailable, "libnftables.so.1 is not installed");
        Requirement.Require("root", NwFilter.Core.Store.StoreLocation.IsRoot, "the held context is only taken as root");
        using var lab = NftLab.Create(3);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        using var held = new HeldNftablesContext(new NamespacedProcessRunner(ProcessRunner.Default, lab.Lab.HostNamespace), lab.Lab.HostNamespace);
        var applier = NftablesBackend.Applier(held);
        applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "clean-traffic"))]).GetAwaiter().GetResult(); // the tables: libnftables

        string Through(bool batch)
        {
            var was = HeldNftablesContext.NetlinkBatch;
            HeldNftablesContext.NetlinkBatch = batch;
            try
            {
                var before = HeldNftablesContext.BatchCounts;
                applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm1, "clean-traffic"))]).GetAwaiter().GetResult(); // a new port
                applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm1, "clean-traffic", vm1.IPv4))]).GetAwaiter().GetResult(); // replaced
                var ruleset = lab.Ruleset();
                var after = HeldNftablesContext.BatchCounts;
                Assert.Equal(batch ? 2 : 0, after.Commits - before.Commits);
                Assert.Equal(0, after.Fallbacks - before.Fallbacks);
                Assert.True(lab.Lab.Ping(vm1.Namespace, vm0.IPv4, timeout: TimeSpan.FromSeconds(3)), "vm1's own traffic passes its rules");
                Assert.True(lab.Lab.SpoofedMacArrives(vm2, vm0, "52:54:00:de:ad:01"), "positive control: the same forged frame from the unfiltered vm2 arrives");
                Assert.False(lab.Lab.SpoofedMacArrives(vm1, vm0, "52:54:00:de:ad:01"), "a forged source MAC from vm1 is dropped");
                applier.RemoveAsync([vm1.PortDevice]).GetAwaiter().GetResult();
                Assert.DoesNotContain(vm1.PortDevice, lab.Ruleset(), StringComparison.Ordinal);
                return ruleset;
            }
            finally
            {
                HeldNftablesContext.NetlinkBatch = was;
            }
        }

        var viaBatch = Through(batch: true);
        var viaLibrary = Through(batch: false);
        Assert.Equal(viaLibrary, viaBatch);
        Assert.Contains(vm1.IPv4, viaBatch, StringComparison.Ordinal);
        applier.RemoveAsync([vm0.PortDevice]).GetAwaiter().GetResult();
        Assert.DoesNotContain("nwfilter", lab.Ruleset(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ABatchTheKernelRefusesCommitsNothingAndLibnftablesNamesTheStatement()
    {
        Requirement.Require("libnftables", LibNftablesRunner.IsAvailable, "libnftables.so.1 is not installed");
        Requirement.Require("root", NwFilter.Core.Store.StoreLocation.IsRoot, "the held context is only taken as root");
        using var lab = NftLab.Create(2);
        var vm0 = lab.Vms[0];
        using var held = new HeldNftablesContext(new NamespacedProcessRunner(ProcessRunner.Default, lab.Lab.HostNamespace), lab.Lab.HostNamespace);
        var applier = NftablesBackend.Applier(held);
        applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "clean-traffic"))]).GetAwaiter().GetResult();
        var before = lab.Ruleset();
        var chain = lab.State().Ports[vm0.PortDevice].Single();
        var existing = NftNames.Chain(vm0.PortDevice, chain.Id, chain.Generation, "I");
        // A new chain and a rule in it, then a chain that exists (a stale plan): the whole batch must be refused.
        var script = $"create chain bridge nwfilter {vm0.PortDevice}/{chain.Id}/99/I\nadd rule bridge nwfilter {vm0.PortDevice}/{chain.Id}/99/I drop\ncreate chain bridge nwfilter {existing}\n";
        var counts = HeldNftablesContext.BatchCounts;
        var was = HeldNftablesContext.NetlinkBatch;
        HeldNftablesContext.NetlinkBatch = true;
        ProcessResult result;
        try
        {
            result = held.RunAsync(new ProcessRequest("nft", "-f", "-") { StandardInput = script }).GetAwaiter().GetResult();
        }
        finally
        {
            HeldNftablesContext.NetlinkBatch = was;
        }

        Assert.False(result.Succeeded);
        Assert.Equal(counts.Fallbacks + 1, HeldNftablesContext.BatchCounts.Fallbacks);
        Assert.Contains("-:3:", result.StandardError, StringComparison.Ordinal); // libnftables' error, at the third statement
        Assert.Equal(before, lab.Ruleset()); // nothing of the batch committed (no chain 99)
        applier.RemoveAsync([vm0.PortDevice]).GetAwaiter().GetResult();
    }
}
