using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>Applying, replacing and removing bindings on the kernel of a lab namespace: what the save tools show.</summary>
[Collection(NetnsCollection.Name)]
public sealed class BindingApplyKernelTests
{
    [SkippableFact]
    public void CleanTrafficInstallsLibvirtsChainsAndRemovingTheLastBindingLeavesNoChain()
    {
        using var lab = BindingLab.Create(1);
        var vm = lab.Vms[0];
        var result = lab.Apply(BindingLab.CleanTraffic(vm));
        var save = lab.Save();
        Assert.Contains("-A PREROUTING -i vnet0 -j libvirt-I-vnet0", save, StringComparison.Ordinal);
        Assert.Contains("-A POSTROUTING -o vnet0 -j libvirt-O-vnet0", save, StringComparison.Ordinal);
        Assert.DoesNotContain("J-vnet0", save, StringComparison.Ordinal);
        Assert.True(result.Execution.ProcessLaunches <= 10, $"{result.Execution.ProcessLaunches} processes");

        lab.Remove(vm.PortDevice);
        var after = lab.Save();
        Assert.DoesNotContain("vnet0", after, StringComparison.Ordinal);
        Assert.DoesNotContain("libvirt", after, StringComparison.Ordinal);
    }
}
