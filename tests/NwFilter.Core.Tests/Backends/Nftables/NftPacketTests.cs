using System.Text.RegularExpressions;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// The nftables applier driven directly, with real packets: IPv6 layer-4 rules through br_netfilter, and replacing a
/// port's rules under load. (clean-traffic and test-eth0 with the nftables backend are in
/// <see cref="Apply.CleanTrafficPacketTestsNftables"/> and <see cref="Apply.TestEth0PacketTestsNftables"/>.)
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed partial class NftApplierPacketTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [SkippableFact]
    public void Ipv6LayerFourRulesActThroughBrNetfilterToo()
    {
        using var lab = NftLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        const string Filter = """
            <filter name='udp6-in'>
              <rule action='accept' direction='in'><udp-ipv6 dstportstart='5353'/></rule>
              <rule action='accept' direction='inout'><icmpv6/></rule>
              <rule action='drop' direction='inout'><all-ipv6/></rule>
            </filter>
            """;
        lab.Apply(NftTestFilters.CompileXml(Filter, vm0.PortDevice, vm0.Mac));

        Assert.True(lab.Lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv6, 5353), "UDP/IPv6 to 5353 reaches the VM");
        Assert.False(lab.Lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv6, 5354, TimeSpan.FromSeconds(1)), "UDP/IPv6 to 5354 does not");
        Assert.False(lab.Lab.UdpDelivered(vm0.Namespace, vm1.Namespace, vm1.IPv6, 5353, TimeSpan.FromSeconds(1)), "the VM sends no UDP/IPv6");
        Assert.True(lab.Lab.Ping(vm1.Namespace, vm0.IPv6, timeout: TimeSpan.FromSeconds(3)), "ICMPv6 passes both ways");
        Assert.True(lab.Lab.UdpDelivered(vm1.Namespace, vm0.Namespace, vm0.IPv4, 5354), "IPv4 is not touched by IPv6 rules");
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex PingSummary();

    [SkippableFact]
    public void ReplacingThePortsRulesUnderAPingFloodLosesNothingBothVersionsAllow()
    {
        using var lab = NftLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        // Three versions that all let vm0 ping vm1: with layer-4 rules (inet table), without (inet table deleted), another IP list.
        var versions = new[]
        {
            NftLab.Ruleset(vm0, "test-eth0"),
            NftLab.Ruleset(vm0, "clean-traffic"),
            NftLab.Ruleset(vm0, "test-eth0", vm0.IPv4, "10.213.0.200"),
        };
        lab.Apply(versions[0]);
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)));

        using var flood = lab.Lab.StartBackground(vm0.Namespace, "ping", "-n", "-q", "-i", "0.002", "-c", "1500", "-W", "1", vm1.IPv4);
        var replaces = 0;
        while (!flood.WaitForExit(TimeSpan.Zero) && replaces < 300)
        {
            lab.Apply(versions[++replaces % versions.Length]);
        }
        Assert.True(flood.WaitForExit(TimeSpan.FromSeconds(30)), "the flood ends");
        var summary = PingSummary().Match(flood.Output);
        Assert.True(summary.Success, flood.Output + flood.Error);
        Assert.True(replaces >= 10, $"only {replaces} replaces happened during the flood");
        output.WriteLine($"{replaces} replaces during the flood: {summary.Value}");
        Assert.Equal(summary.Groups[1].Value, summary.Groups[2].Value);
        Assert.Single(lab.State().Ports["vnet0"]);
    }
}
