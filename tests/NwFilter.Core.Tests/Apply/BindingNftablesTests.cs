using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>Bindings with the nftables backend through the binding manager, on a lab kernel (and its plans without one).</summary>
[Collection(NetnsCollection.Name)]
public sealed class BindingNftablesKernelTests
{
    private static FilterBinding Nft(FilterBinding binding) => binding with { Backend = FirewallBackendKind.Nftables };

    [SkippableFact]
    public void CleanTrafficWithNftablesDropsAForgedMacPassesOwnTrafficAndRemoveLeavesNoTable()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        var result = lab.Apply(Nft(BindingLab.CleanTraffic(vm0)), Nft(BindingLab.CleanTraffic(vm1)));

        Assert.Equal(["nft"], result.Execution.Transactions.Select(t => t.Program)); // both ports in one nft transaction
        Assert.Equal(FirewallBackendKind.Nftables, lab.Store.Get(vm0.PortDevice)!.Backend);
        Assert.Contains("<backend name='nftables'/>", File.ReadAllText(Path.Combine(lab.Store.Directory, vm0.PortDevice + ".xml")), StringComparison.Ordinal);
        Assert.Contains("table bridge nwfilter", Ruleset(lab), StringComparison.Ordinal);
        Assert.DoesNotContain("vnet0", lab.Save("ebtables-save", "nat"), StringComparison.Ordinal);

        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4));
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));
        Assert.All(Test(lab), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));

        lab.Remove(vm0.PortDevice, vm1.PortDevice);
        Assert.DoesNotContain("nwfilter", Ruleset(lab), StringComparison.Ordinal);
        Assert.Empty(lab.Store.List().Bindings);
        Assert.True(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));
    }

    [SkippableFact]
    public void SwitchingAPortBetweenBackendsLeavesOnlyTheCurrentBackendsRules()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(BindingLab.CleanTraffic(vm0), BindingLab.CleanTraffic(vm1));
        Assert.Contains("I-vnet0", lab.Save("ebtables-save", "nat"), StringComparison.Ordinal);

        // EbIpTables -> nftables: one nft transaction puts the new rules in and takes the port's ebtables chains out.
        var toNft = lab.Apply(Nft(BindingLab.CleanTraffic(vm0)));
        var move = Assert.Single(toNft.Execution.Transactions);
        Assert.Equal("nft", move.Program);
        Assert.Contains("delete chain bridge nat libvirt-I-vnet0", move.Input, StringComparison.Ordinal);
        Assert.Contains("nwfilter", move.Input, StringComparison.Ordinal);
        var eb = lab.Save("ebtables-save", "nat");
        Assert.DoesNotContain("vnet0", eb, StringComparison.Ordinal);
        Assert.Contains("I-vnet1", eb, StringComparison.Ordinal);
        Assert.Contains("vnet0/", Ruleset(lab), StringComparison.Ordinal);
        Assert.DoesNotContain("vnet1/", Ruleset(lab), StringComparison.Ordinal);
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4));
        Assert.All(Test(lab), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));

        // And back: libvirt's chains are built inert, then one swap transaction links them and deletes the nft tables
        // (no nftables binding is left).
        var back = lab.Apply(BindingLab.CleanTraffic(vm0));
        Assert.Contains(back.Execution.Transactions, t => t.Input is { } i && i.Contains("add rule bridge nat PREROUTING", StringComparison.Ordinal) && i.Contains("nwfilter", StringComparison.Ordinal));
        Assert.DoesNotContain("nwfilter", Ruleset(lab), StringComparison.Ordinal);
        Assert.Contains("I-vnet0", lab.Save("ebtables-save", "nat"), StringComparison.Ordinal);
        Assert.Equal(FirewallBackendKind.EbIpTables, lab.Store.Get(vm0.PortDevice)!.Backend);
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));
        Assert.All(Test(lab), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));

        // The last EbIpTables binding moving to nftables takes the global ebtables chains with it.
        lab.Apply(Nft(BindingLab.CleanTraffic(vm0)), Nft(BindingLab.CleanTraffic(vm1)));
        Assert.DoesNotContain("libvirt", lab.Save(), StringComparison.Ordinal);
        lab.Remove(vm0.PortDevice, vm1.PortDevice);
        Assert.DoesNotContain("nwfilter", Ruleset(lab), StringComparison.Ordinal);
        Assert.DoesNotContain("vnet", lab.Save(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void DriftOfAnNftablesBindingIsReportedAndRestoreRepairsItAndRemovesNftOrphans()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(Nft(BindingLab.CleanTraffic(vm0)), Nft(BindingLab.CleanTraffic(vm1)));

        // An orphan: vnet1's binding file goes, its chains stay. vnet0's I chain loses its rules.
        lab.Store.Delete(vm1.PortDevice);
        var chain = Ruleset(lab).Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("chain vnet0/", StringComparison.Ordinal) && l.EndsWith("/I {", StringComparison.Ordinal));
        lab.Lab.RunInHostChecked("nft", "flush", "chain", "bridge", "nwfilter", chain["chain ".Length..^2]);
        var drift = Test(lab).ToDictionary(d => d.PortDevice);
        Assert.Equal(BindingDriftStatus.Drifted, drift[vm0.PortDevice].Status);
        Assert.NotEmpty(drift[vm0.PortDevice].MissingRules);
        Assert.Empty(drift[vm0.PortDevice].UnexpectedRules);
        Assert.Equal(BindingDriftStatus.Orphaned, drift[vm1.PortDevice].Status);

        var restored = lab.Manager.RestoreAsync().GetAwaiter().GetResult();
        Assert.All(restored.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        Assert.Contains(restored.Warnings, w => w.Message.Contains("vnet1", StringComparison.Ordinal));
        Assert.DoesNotContain("vnet1/", Ruleset(lab), StringComparison.Ordinal);
        Assert.All(Test(lab), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));

        lab.Remove(vm0.PortDevice);
        Assert.DoesNotContain("nwfilter", Ruleset(lab), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AFilterChangeReinstantiatesNftablesAndEbIpTablesBindingsAlike()
    {
        using var lab = BindingLab.Create(3);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        lab.Apply(Nft(BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4))), BindingLab.Binding(vm1, "test-eth0", ("IP", vm1.IPv4)));
        var open = BindingLab.TestEth0 with
        {
            Entries = [.. BindingLab.TestEth0.Entries.Take(1), Build.Rule(RuleAction.Drop, RuleDirection.Out, ProtocolKind.Mac, ("srcmacaddr", "52:54:00:66:66:66")), .. BindingLab.TestEth0.Entries.Skip(1)],
        };
        var changed = new InMemoryFilterSource([.. BuiltInFilters.All, open]);
        var result = lab.Manager.ReinstantiateAsync(changed, ["test-eth0"]).GetAwaiter().GetResult();

        Assert.Equal([vm0.PortDevice, vm1.PortDevice], result.Items.Select(i => i.PortDevice).Order(StringComparer.Ordinal));
        Assert.Contains(result.Execution.Transactions, t => t.Input.Contains("vnet0/", StringComparison.Ordinal));
        Assert.Contains("52:54:00:66:66:66", Ruleset(lab), StringComparison.Ordinal);
        Assert.Contains("52:54:00:66:66:66", lab.Save("ebtables-save", "nat"), StringComparison.Ordinal);
        Assert.DoesNotContain("vnet1/", Ruleset(lab), StringComparison.Ordinal);
        _ = vm2;
        lab.Remove(vm0.PortDevice, vm1.PortDevice);
    }

    [SkippableFact]
    public void AFailedNftTransactionFailsOnlyTheNftablesBindingsOfTheBatch()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.NewManager(inner => new FaultyRunner(inner, (_, r) =>
            r.Program == "nft" && r.StandardInput?.Contains("nwfilter", StringComparison.Ordinal) == true ? Fault.Fail : Fault.None));
        var result = lab.Manager.ApplyAsync([Nft(BindingLab.CleanTraffic(vm0)), BindingLab.CleanTraffic(vm1)]).GetAwaiter().GetResult();

        Assert.Equal(NwFilter.Core.Backends.Nftables.NftablesCodes.NftFailed, result.Items[0].Error?.Primary.Code);
        Assert.True(result.Items[1].Succeeded, result.Items[1].Error?.Message);
        Assert.Equal([vm1.PortDevice], lab.Store.List().Bindings.Select(b => b.PortDevice));
        Assert.Contains("I-vnet1", lab.Save("ebtables-save", "nat"), StringComparison.Ordinal);
        Assert.DoesNotContain("nwfilter", Ruleset(lab), StringComparison.Ordinal);
        lab.NewManager();
        lab.Remove(vm1.PortDevice);
    }

    [SkippableFact]
    public void AMoveIsOneTransactionAndWhenTheKernelRefusesItTheOldRulesStayAlone()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(BindingLab.CleanTraffic(vm0));
        var before = lab.Save("ebtables-save", "nat");
        // The one transaction of the move (ebtables teardown + NwFilter's tables) is refused.
        lab.NewManager(inner => new FaultyRunner(inner, (_, r) =>
            r.Program == "nft" && r.StandardInput?.Contains("nwfilter", StringComparison.Ordinal) == true ? Fault.Fail : Fault.None));
        var failed = lab.Manager.RestoreAsync(backend: FirewallBackendKind.Nftables).GetAwaiter().GetResult();

        Assert.Equal(NwFilter.Core.Backends.Nftables.NftablesCodes.NftFailed, Assert.Single(failed.Items).Error?.Primary.Code);
        Assert.Equal(FirewallBackendKind.EbIpTables, lab.Store.Get(vm0.PortDevice)!.Backend);
        Assert.Equal(Normalize(before), Normalize(lab.Save("ebtables-save", "nat")));
        Assert.DoesNotContain("nwfilter", Ruleset(lab), StringComparison.Ordinal);
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));

        // -WhatIf shows the move as it runs: one nft transaction with the ebtables teardown in it.
        lab.NewManager();
        var plan = lab.Manager.PlanApply(lab.Manager.ReadFirewallAsync().GetAwaiter().GetResult(), [Nft(BindingLab.CleanTraffic(vm0))]);
        var planned = Assert.Single(plan.Transactions);
        Assert.Contains("nwfilter", planned.Input, StringComparison.Ordinal);
        Assert.Contains("delete chain bridge nat libvirt-I-" + vm0.PortDevice, planned.Input, StringComparison.Ordinal);

        // Unhindered, the same move commits once: the teardown of the ebtables rules and the nftables rules together.
        var moved = lab.Manager.RestoreAsync(backend: FirewallBackendKind.Nftables).GetAwaiter().GetResult();
        Assert.True(Assert.Single(moved.Items).Succeeded, moved.Items[0].Error?.Message);
        Assert.Empty(moved.Warnings);
        var joint = Assert.Single(moved.Execution.Transactions, t => t.Input?.Contains("nwfilter", StringComparison.Ordinal) == true);
        Assert.Contains("delete rule bridge nat PREROUTING handle ", joint.Input, StringComparison.Ordinal);
        Assert.Contains("delete chain bridge nat libvirt-I-" + vm0.PortDevice, joint.Input, StringComparison.Ordinal);
        Assert.DoesNotContain(moved.Execution.Transactions, t => t != joint && t.Input?.Contains(" bridge nat ", StringComparison.Ordinal) == true);
        Assert.DoesNotContain(vm0.PortDevice, lab.Save("ebtables-save", "nat"), StringComparison.Ordinal);
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));

        // The way back, planned: the xtables swap carries the removal of NwFilter's tables (no nftables binding remains).
        var back = lab.Manager.PlanApply(lab.Manager.ReadFirewallAsync().GetAwaiter().GetResult(), [BindingLab.CleanTraffic(vm0)]);
        var swap = Assert.Single(back.Transactions, t => t.Step.StartsWith("swap", StringComparison.Ordinal));
        Assert.Contains("nwfilter", swap.Input, StringComparison.Ordinal);
        Assert.DoesNotContain(back.Transactions, t => t != swap && t.Input.Contains("nwfilter", StringComparison.Ordinal));
        lab.Remove(vm0.PortDevice);
    }

    /// <summary>An ebtables-save listing without its counters and comment lines.</summary>
    private static string Normalize(string save) =>
        string.Join('\n', save.Split('\n').Where(l => !l.StartsWith('#')).Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"-c \d+ \d+", "")));

    [SkippableFact]
    public void WhenTheOldBackendsRulesCannotBeRemovedTheNewOnesAreInForceAndRestoreRemovesTheOld()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(BindingLab.CleanTraffic(vm0));
        // The ebtables rule handles cannot be read (so the move cannot be one transaction) and the ebtables teardown
        // (an nft transaction on the xtables tables) fails; the nwfilter transaction runs.
        lab.NewManager(inner => new FaultyRunner(inner, (_, r) =>
            r.Program == "nft" && (r.Arguments.Contains("-a") || r.StandardInput is { } input && !input.Contains("nwfilter", StringComparison.Ordinal)) ? Fault.Fail : Fault.None));
        var result = lab.Manager.ApplyAsync([Nft(BindingLab.CleanTraffic(vm0))]).GetAwaiter().GetResult();

        Assert.True(result.Items[0].Succeeded, result.Items[0].Error?.Message);
        Assert.Contains(result.Warnings, w => w.Code == ApplyCodes.BackendMoveNotJoined && w.Message.Contains("vnet0", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.Code == ApplyCodes.OldBackendRulesRemain && w.Message.Contains("vnet0", StringComparison.Ordinal));
        Assert.Equal(FirewallBackendKind.Nftables, lab.Store.Get(vm0.PortDevice)!.Backend);
        Assert.Contains("vnet0/", Ruleset(lab), StringComparison.Ordinal);
        Assert.Contains("I-vnet0", lab.Save("ebtables-save", "nat"), StringComparison.Ordinal);
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"));

        lab.NewManager();
        var drift = Test(lab).Single();
        Assert.Equal(BindingDriftStatus.Drifted, drift.Status);
        Assert.Contains(drift.UnexpectedRules, r => r.StartsWith("ebtables: ", StringComparison.Ordinal));
        var restored = lab.Manager.RestoreAsync().GetAwaiter().GetResult();
        Assert.Contains(restored.Warnings, w => w.Code == "OrphanedRulesRemoved");
        Assert.DoesNotContain("vnet0", lab.Save("ebtables-save", "nat"), StringComparison.Ordinal);
        Assert.Equal(BindingDriftStatus.InSync, Test(lab).Single().Status);
        lab.Remove(vm0.PortDevice);
        Assert.DoesNotContain("nwfilter", Ruleset(lab), StringComparison.Ordinal);
    }

    private static string Ruleset(BindingLab lab) => lab.Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput;

    private static IReadOnlyList<BindingDrift> Test(BindingLab lab) => lab.Manager.TestAsync().GetAwaiter().GetResult();
}

/// <summary>The nftables backend in the binding manager without a kernel: refusals and plans.</summary>
public sealed class BindingNftablesPlanTests : IDisposable
{
    private readonly TempDirectory state = new("nwfilter-nftplan");

    public void Dispose() => state.Dispose();

    private BindingManager Manager(bool learning) => new(new BindingManagerOptions
    {
        NetworkNamespace = "nwft-absent",
        Filters = new InMemoryFilterSource(BuiltInFilters.All),
        Store = new BindingStore(state.Combine("bindings"), "nwft-absent"),
        Learners = learning ? new IpLearnerRegistry(new LeaseStore(state.Combine("leases")), new FakeFrameSource(), new ManualTimeProvider()) : null,
    });

    private static FilterBinding Binding(params (string Name, string Value)[] parameters) =>
        new("vnet0", LearningPackets.VmMac, "clean-traffic") { OwnerName = "vm0", OwnerUuid = Guid.NewGuid(), Parameters = Build.Params(parameters), Backend = FirewallBackendKind.Nftables };

    [Fact]
    public async Task ABindingThatLearnsItsIpGetsTheNftablesLearningRules()
    {
        var manager = Manager(true);
        var plan = manager.PlanApply(FirewallSnapshot.Empty(), [Binding()]);
        var script = Assert.Single(plan.Transactions).Input!;
        Assert.Contains("ether type arp accept", script, StringComparison.Ordinal); // any mode's basic rules
        Assert.DoesNotContain("ebtables", string.Join(" ", plan.Transactions.Select(t => t.Program)), StringComparison.Ordinal);
        await manager.Learners!.DisposeAsync();
    }

    [Fact]
    public void WithoutLearningABindingThatNeedsItIsRefusedOnNftablesToo()
    {
        var error = Assert.Throws<NwFilterException>(() => Manager(false).Compile(Binding()));
        Assert.Equal(ApplyCodes.IpLearningUnavailable, error.Primary.Code);
    }

    [Fact]
    public void ThePlanOfAnNftablesBindingIsOneNftScript()
    {
        var plan = Manager(false).PlanApply(FirewallSnapshot.Empty(), [Binding(("IP", "10.0.0.5"))]);

        var t = Assert.Single(plan.Transactions);
        Assert.Equal("nft", t.Program);
        Assert.Equal(["-f", "-"], t.Arguments.ToArray());
        Assert.Contains("add table bridge nwfilter", t.Input, StringComparison.Ordinal);
        Assert.Contains("vnet0/1/1/I", t.Input, StringComparison.Ordinal);
        Assert.False(plan.AssumedEmpty);
    }

    [Fact]
    public void AnIpSetRuleIsRefusedForNftablesAtCompileTime()
    {
        var filter = new FilterDefinition("with-ipset")
        {
            Entries = [Build.Rule(RuleAction.Drop, RuleDirection.Out, ProtocolKind.Tcp, ("ipset", "blocked"), ("ipsetflags", "src"))],
        };
        var manager = new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = "nwft-absent",
            Filters = new InMemoryFilterSource([filter]),
            Store = new BindingStore(state.Combine("bindings"), "nwft-absent"),
        });
        var error = Assert.Throws<NwFilterException>(() => manager.Compile(new FilterBinding("vnet0", LearningPackets.VmMac, "with-ipset") { Backend = FirewallBackendKind.Nftables }));
        Assert.Contains(error.Diagnostics, d => d.Code == NwFilter.Core.Backends.Nftables.NftablesCodes.IpSetUnsupported);
    }
}
