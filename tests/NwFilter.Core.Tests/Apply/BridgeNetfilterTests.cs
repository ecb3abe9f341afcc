using NwFilter.Core.Apply;

namespace NwFilter.Core.Tests.Apply;

public sealed class BridgeNetfilterTests
{
    [Fact]
    public void ReadsBothSettingsFromOneCat()
    {
        Assert.Equal(new BridgeNetfilterStatus(BridgeHookState.On, BridgeHookState.Off), BridgeNetfilterStatus.Parse("1\n0\n", ""));
        var absent = BridgeNetfilterStatus.Parse("", $"cat: {BridgeNetfilterStatus.IPv4Path}: No such file or directory\ncat: {BridgeNetfilterStatus.IPv6Path}: No such file or directory\n");
        Assert.Equal(new BridgeNetfilterStatus(BridgeHookState.ModuleNotLoaded, BridgeHookState.ModuleNotLoaded), absent);
    }

    [Fact]
    public void WarnsOnlyWhenTheHooksAreOff()
    {
        var status = new BridgeNetfilterStatus(BridgeHookState.Off, BridgeHookState.On);
        Assert.Null(status.Warn(true, ["vnet0"], null));
        var warning = status.Warn(false, ["vnet0", "vnet1"], "lab")!;
        Assert.Equal(ApplyCodes.BridgeNetfilterOff, warning.Code);
        Assert.Equal("The iptables rules of vnet0, vnet1 do not apply to bridged traffic: net.bridge.bridge-nf-call-iptables is 0 in network namespace lab. "
            + "They are installed but no bridged packet reaches them (the ebtables rules do apply). To enforce them: sysctl -w net.bridge.bridge-nf-call-iptables=1.", warning.Message);
        Assert.Contains("modprobe br_netfilter", new BridgeNetfilterStatus(BridgeHookState.ModuleNotLoaded, BridgeHookState.On).Warn(false, ["vnet0"], null)!.Message, StringComparison.Ordinal);
    }
}
