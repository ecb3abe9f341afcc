using NwFilter.Core.Apply;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// An update from clean-traffic to test-eth0 on vm0, with a failure injected at every process it launches in turn: a
/// tool that fails, a process killed while it runs, our own process dying. Each time the previous rules stay in force
/// (the save output is unchanged, and TCP 8080 to the VM, which test-eth0 would drop, still passes), and the error
/// names the tool. Then the update goes through.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class FailureInjectionTests
{
    [SkippableTheory]
    [InlineData(Fault.Fail)]
    [InlineData(Fault.Kill)]
    public void AFailureAtAnyStepLeavesThePreviousRulesInForce(Fault fault)
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(BindingLab.CleanTraffic(vm0));
        var before = lab.Save();
        var update = BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4));

        var failures = new List<string>();
        for (var n = 1; ; n++)
        {
            Assert.True(n < 20, "the update never succeeded");
            var runner = (FaultyRunner)null!;
            lab.NewManager(inner => runner = new FaultyRunner(inner, (call, _) => call == n ? fault : Fault.None));
            var result = lab.Manager.ApplyAsync([update]).GetAwaiter().GetResult();
            if (result.Items[0].Succeeded)
            {
                Assert.True(n > 5, $"the update succeeded although call {n} ({runner.Calls.ElementAtOrDefault(n - 1)}) was faulty");
                break;
            }
            var error = result.Items[0].Error!;
            var tool = runner.Calls[n - 1];
            failures.Add($"{n}: {tool}");
            Assert.Contains(tool, error.Message, StringComparison.Ordinal);
            Assert.Contains(fault == Fault.Kill ? "killed" : "injected failure", error.Message, StringComparison.Ordinal);
            Assert.True(error.Primary.Code is ApplyCodes.FirewallApplyFailed or ApplyCodes.FirewallReadFailed, error.Primary.Code);
            Assert.Equal(before, lab.Save());
            Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), $"call {n} ({tool}): clean-traffic still lets TCP 8080 in");
            Assert.Equal("clean-traffic", lab.Store.Get(vm0.PortDevice)!.Filter);
        }
        Assert.Contains(failures, f => f.EndsWith("ebtables-restore", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.EndsWith("iptables-restore", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.EndsWith("nft", StringComparison.Ordinal));
        Assert.False(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080, TimeSpan.FromSeconds(1)), "test-eth0 is in force");
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 22));
        Assert.Equal("test-eth0", lab.Store.Get(vm0.PortDevice)!.Filter);
    }

    [SkippableTheory]
    [InlineData("iptables-restore")]
    [InlineData("nft")]
    public void OurProcessDyingMidwayLeavesTheOldRulesAndInertChainsThatTheNextApplyRemoves(string diesAt)
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(BindingLab.CleanTraffic(vm0));
        var before = lab.Save();
        var update = BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4));

        lab.NewManager(inner => new FaultyRunner(inner, (_, r) => r.Program == diesAt && r.StandardInput is not null ? Fault.Crash : Fault.None));
        var result = lab.Manager.ApplyAsync([update]).GetAwaiter().GetResult();
        Assert.False(result.Items[0].Succeeded);
        Assert.Contains("inert", result.Items[0].Error!.Message, StringComparison.Ordinal);

        var leftover = lab.Save();
        Assert.Contains("libvirt-J-vnet0", leftover, StringComparison.Ordinal); // the new chains were built, never linked
        Assert.Contains("-A PREROUTING -i vnet0 -j libvirt-I-vnet0", leftover, StringComparison.Ordinal);
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "clean-traffic is still in force");
        Assert.False(lab.Lab.SpoofedMacArrives(vm0, vm1, "52:54:00:66:66:66"), "and still drops forged MACs");

        lab.NewManager();
        lab.Apply(update);
        var after = lab.Save();
        Assert.DoesNotContain("J-vnet0", after, StringComparison.Ordinal);
        Assert.DoesNotContain("FJ-vnet0", after, StringComparison.Ordinal);
        Assert.False(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080, TimeSpan.FromSeconds(1)), "test-eth0 is in force");

        lab.Remove(vm0.PortDevice);
        Assert.DoesNotContain("vnet0", lab.Save(), StringComparison.Ordinal);
        Assert.NotEqual(before, after);
    }

    [SkippableFact]
    public void DyingBetweenSwapAndRenameLeavesTheNewRulesInForceAndTheNextApplyFinishesTheRename()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(BindingLab.CleanTraffic(vm0));
        var nftTransactions = 0;
        lab.NewManager(inner => new FaultyRunner(inner, (_, r) =>
            r.Program == "nft" && r.StandardInput is not null && ++nftTransactions == 2 ? Fault.Crash : Fault.None));
        var result = lab.Manager.ApplyAsync([BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4))]).GetAwaiter().GetResult();
        Assert.True(result.Items[0].Succeeded, "the swap committed: the binding is applied");
        Assert.Contains(result.Warnings, w => w.Code == ApplyCodes.CleanupFailed);

        var save = lab.Save();
        Assert.Contains("-A PREROUTING -i vnet0 -j libvirt-J-vnet0", save, StringComparison.Ordinal);
        Assert.DoesNotContain("libvirt-I-vnet0", save, StringComparison.Ordinal);
        Assert.False(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080, TimeSpan.FromSeconds(1)), "test-eth0 is in force");
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 22));

        lab.NewManager();
        Assert.Equal(BindingDriftStatus.Drifted, lab.Manager.TestAsync().GetAwaiter().GetResult().Single().Status);
        var repaired = lab.Apply(BindingLab.CleanTraffic(vm0));
        Assert.StartsWith("repair", repaired.Execution.Transactions[0].Step, StringComparison.Ordinal);
        Assert.DoesNotContain("J-vnet0", lab.Save(), StringComparison.Ordinal);
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "clean-traffic is in force again");
        Assert.Equal(BindingDriftStatus.InSync, lab.Manager.TestAsync().GetAwaiter().GetResult().Single().Status);
    }
}
