using NwFilter.Core.Apply;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>The manager's life-cycle on a lab kernel: batches, replacement, drift, restore, re-instantiation, warnings.</summary>
[Collection(NetnsCollection.Name)]
public sealed class BindingManagerKernelTests
{
    [SkippableFact]
    public void ManyBindingsGoInTogetherWithAFixedNumberOfProcessesAndAreReplacedInPlace()
    {
        using var lab = BindingLab.Create(3);
        var result = lab.Apply([.. lab.Vms.Select(v => BindingLab.Binding(v, "test-eth0", ("IP", v.IPv4)))]);
        Assert.True(result.Execution.ProcessLaunches <= 12, $"{result.Execution.ProcessLaunches} processes for 3 bindings");
        Assert.Equal(["ebtables-restore", "iptables-restore", "nft", "nft"], result.Execution.Transactions.Select(t => t.Program));
        Assert.Equal(["vnet0", "vnet1", "vnet2"], lab.Store.List().Bindings.Select(b => b.PortDevice));

        // Replacing test-eth0 by clean-traffic removes the iptables chains and (unlike libvirt) the libvirt-in-post rule.
        lab.Apply(BindingLab.CleanTraffic(lab.Vms[1]));
        var save = lab.Save();
        Assert.DoesNotContain("FI-vnet1", save, StringComparison.Ordinal);
        Assert.Contains("FI-vnet0", save, StringComparison.Ordinal);
        Assert.DoesNotContain("--physdev-in vnet1", save, StringComparison.Ordinal);
        Assert.Contains("-A libvirt-in-post -m physdev --physdev-in vnet0 -j ACCEPT", save, StringComparison.Ordinal);
        Assert.DoesNotContain("J-vnet", save, StringComparison.Ordinal);
        Assert.Equal("clean-traffic", lab.Store.Get("vnet1")!.Filter);

        lab.Remove("vnet0", "vnet1");
        Assert.Contains(":libvirt-in", lab.Save(), StringComparison.Ordinal); // vnet2 still needs the base chains
        lab.Remove("vnet2");
        Assert.DoesNotContain("libvirt", lab.Save(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void DriftIsReportedAndRestoreRepairsItAndRemovesOrphans()
    {
        using var lab = BindingLab.Create(2);
        lab.Apply(BindingLab.CleanTraffic(lab.Vms[0]), BindingLab.Binding(lab.Vms[1], "test-eth0", ("IP", lab.Vms[1].IPv4)));
        Assert.All(Test(lab), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));

        lab.Lab.RunInHostChecked("ebtables", "-t", "nat", "-D", "I-vnet0-mac", "-j", "DROP");
        lab.Lab.RunInHostChecked("iptables", "-F", "FO-vnet1");
        lab.Lab.RunInHostChecked("ebtables", "-t", "nat", "-N", "libvirt-I-vnet9");
        var drift = Test(lab).ToDictionary(d => d.PortDevice);
        Assert.Equal(BindingDriftStatus.Drifted, drift["vnet0"].Status);
        Assert.Equal(["ebtables: -A I-vnet0-mac -j DROP"], drift["vnet0"].MissingRules.ToArray());
        Assert.Equal(BindingDriftStatus.Drifted, drift["vnet1"].Status);
        Assert.Contains(drift["vnet1"].MissingRules, r => r.StartsWith("iptables: -A FO-vnet1 ", StringComparison.Ordinal));
        Assert.Empty(drift["vnet1"].UnexpectedRules);
        Assert.Equal(BindingDriftStatus.Orphaned, drift["vnet9"].Status);

        lab.Lab.RunInHostChecked("ebtables", "-t", "nat", "-F");
        Assert.Equal(BindingDriftStatus.Missing, Test(lab).Single(d => d.PortDevice == "vnet0").Status);

        var restored = lab.Manager.RestoreAsync().GetAwaiter().GetResult();
        Assert.All(restored.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        Assert.Contains(restored.Warnings, w => w.Message.Contains("vnet9", StringComparison.Ordinal));
        Assert.All(Test(lab), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));
        Assert.False(lab.Lab.SpoofedMacArrives(lab.Vms[0], lab.Vms[1], "52:54:00:66:66:66"));
        // This process's scratch namespaces only: another NwFilter process on the machine may hold one of its own.
        Assert.DoesNotContain($"{BindingManager.ScratchPrefix}{Environment.ProcessId}-", lab.Lab.Run(lab.Lab.HostNamespace, "ip", "netns", "list").StandardOutput, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ChangingAFilterReinstantiatesEveryBindingThatUsesItOrNoneAtAll()
    {
        using var lab = BindingLab.Create(3);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        lab.Apply(BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4)), BindingLab.Binding(vm1, "test-eth0", ("IP", vm1.IPv4)));
        Assert.False(lab.Lab.TcpConnect(vm2.Namespace, vm0.Namespace, vm0.IPv4, 8080, TimeSpan.FromSeconds(1)));

        // test-eth0 now also lets 8080 in: both bindings change in one go.
        var open = BindingLab.TestEth0 with
        {
            Entries = [.. BindingLab.TestEth0.Entries.Take(1), Build.Rule(RuleAction.Accept, RuleDirection.In, ProtocolKind.Tcp, ("dstportstart", "8080")), .. BindingLab.TestEth0.Entries.Skip(1)],
        };
        var changed = new InMemoryFilterSource([.. NwFilter.Core.BuiltIn.BuiltInFilters.All, open]);
        var result = lab.Manager.ReinstantiateAsync(changed, ["test-eth0"]).GetAwaiter().GetResult();
        Assert.Equal(["vnet0", "vnet1"], result.Items.Select(i => i.PortDevice));
        Assert.Equal(4, result.Execution.Transactions.Length);
        Assert.True(lab.Lab.TcpConnect(vm2.Namespace, vm0.Namespace, vm0.IPv4, 8080));
        Assert.True(lab.Lab.TcpConnect(vm2.Namespace, vm1.Namespace, vm1.IPv4, 8080));

        // A change through a reference (clean-traffic's no-mac-spoofing) reaches them too; one that breaks a binding
        // (a variable it does not give) changes nothing.
        var before = lab.Save();
        var broken = new InMemoryFilterSource([.. changed.Names.Select(n => changed.Find(n)!).Where(f => f.Name != "no-mac-spoofing"),
            Build.Filter("no-mac-spoofing", "mac", -800, Build.Rule(RuleAction.Return, RuleDirection.Out, ProtocolKind.Mac, ("srcmacaddr", "$UNSET")))]);
        var error = Assert.Throws<NwFilter.Core.Diagnostics.NwFilterException>(() => lab.Manager.ReinstantiateAsync(broken, ["no-mac-spoofing"]).GetAwaiter().GetResult());
        Assert.Equal(ApplyCodes.ReinstantiationFailed, error.Primary.Code);
        Assert.Contains("vnet0", error.Message, StringComparison.Ordinal);
        Assert.Contains("vnet1", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, lab.Save());
    }

    [SkippableFact]
    public void BridgeNetfilterOffIsSaidAndAMissingIpIsRefused()
    {
        using var lab = BindingLab.Create(1);
        var vm = lab.Vms[0];
        lab.Lab.RunInHostChecked("sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0");
        var result = lab.Apply(BindingLab.Binding(vm, "test-eth0", ("IP", vm.IPv4)));
        var warning = Assert.Single(result.Warnings);
        Assert.Equal(ApplyCodes.BridgeNetfilterOff, warning.Code);
        Assert.Contains("net.bridge.bridge-nf-call-iptables is 0", warning.Message, StringComparison.Ordinal);
        Assert.Contains(Test(lab), d => d.Warnings.Any(w => w.Code == ApplyCodes.BridgeNetfilterOff));

        var before = lab.Save();
        var missing = lab.Manager.ApplyAsync([BindingLab.Binding(vm, "clean-traffic")]).GetAwaiter().GetResult();
        Assert.Equal(ApplyCodes.IpLearningUnavailable, missing.Items[0].Error!.Primary.Code);
        Assert.Contains("-Parameter @{ IP =", missing.Items[0].Error!.Message, StringComparison.Ordinal);
        Assert.Equal(before, lab.Save());
        Assert.Equal("test-eth0", lab.Store.Get(vm.PortDevice)!.Filter);
    }

    private static IReadOnlyList<BindingDrift> Test(BindingLab lab) => lab.Manager.TestAsync().GetAwaiter().GetResult();
}
