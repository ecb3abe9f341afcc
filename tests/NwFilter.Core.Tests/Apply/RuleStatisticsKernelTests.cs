using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// Per-rule counters on the real kernel, both backends: a test's packets show on the rule that handled them and on no
/// other rule of the same chain, a reset zeroes them (returning what they held), counters do not make a binding drift,
/// and an nftables binding without counters says so.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class RuleStatisticsKernelTests
{
    private const string ForgedIp = "10.213.0.97";

    private static (List<RuleStatistic> Rules, List<string> Problems) Read(BindingLab lab, string port, bool reset = false)
    {
        var (rules, problems) = lab.Manager.StatisticsAsync([port], reset).GetAwaiter().GetResult();
        return ([.. rules], [.. problems.Select(p => $"{p.Code}: {p.Message}")]);
    }

    private static long Packets(IEnumerable<RuleStatistic> rules, Func<RuleStatistic, bool> which) => rules.Where(which).Sum(r => r.Packets);

    [SkippableTheory]
    [InlineData(FirewallBackendKind.Nftables)]
    [InlineData(FirewallBackendKind.EbIpTables)]
    public void PacketsOfATestShowOnTheRuleThatHandledThemAndAResetZeroesThem(FirewallBackendKind backend)
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(3, backend);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        var binding = BindingLab.CleanTraffic(vm0) with { Counters = true };
        lab.Apply(binding);

        var (start, problems) = Read(lab, vm0.PortDevice);
        Assert.Empty(problems);
        Assert.All(start, r => Assert.Equal(vm0.PortDevice, r.PortDevice));
        Assert.All(start, r => Assert.Equal(backend, r.Backend));
        bool IpReturn(RuleStatistic r) => r.Filter == "no-ip-spoofing" && r.Action == RuleAction.Return && r.Rule.Contains($"srcipaddr='{vm0.IPv4}'", StringComparison.Ordinal);
        bool IpDrop(RuleStatistic r) => r.Filter == "no-ip-spoofing" && r.Action == RuleAction.Drop;
        bool IpChain(RuleStatistic r) => r.Filter == "no-ip-spoofing";
        bool Incoming(RuleStatistic r) => r.Filter == "allow-incoming-ipv4";
        Assert.Single(start, IpReturn);
        Assert.Single(start, IpDrop);
        Assert.Single(start, Incoming);

        // Five honest pings: five echo requests through no-ip-spoofing's return rule for the VM's address, five replies
        // accepted by allow-incoming-ipv4; no-ip-spoofing's other rules see none of them.
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, count: 5, timeout: TimeSpan.FromSeconds(3)));
        var (honest, _) = Read(lab, vm0.PortDevice);
        Assert.Equal(5, Packets(honest, IpReturn) - Packets(start, IpReturn));
        // The replies: five, plus whatever IPv4 the lab's other namespaces send vm0 meanwhile (an IGMP report, a
        // multicast): the incoming side is not under the test's control as the VM's own side is.
        Assert.InRange(Packets(honest, Incoming) - Packets(start, Incoming), 5, 7);
        Assert.Equal(0, Packets(honest, r => IpChain(r) && !IpReturn(r)) - Packets(start, r => IpChain(r) && !IpReturn(r)));
        var bytes = honest.Where(IpReturn).Sum(r => r.Bytes) - start.Where(IpReturn).Sum(r => r.Bytes);
        Assert.True(bytes is 5 * 84 or 5 * 98, $"five 84-byte echo requests (98 with the Ethernet header), counted {bytes} bytes");

        // Two pings with a forged source: both dropped by no-ip-spoofing's drop rule (and not arriving), nothing on its
        // return rules. Control: the same forgery from the unfiltered vm2 arrives.
        Assert.False(lab.Lab.SpoofedIPv4Arrives(vm0, vm1, ForgedIp));
        Assert.True(lab.Lab.SpoofedIPv4Arrives(vm2, vm1, "10.213.0.96"), "control: the forgery from the unfiltered VM arrives");
        var (forged, _) = Read(lab, vm0.PortDevice);
        Assert.Equal(2, Packets(forged, IpDrop) - Packets(honest, IpDrop));
        Assert.Equal(0, Packets(forged, r => IpChain(r) && !IpDrop(r)) - Packets(honest, r => IpChain(r) && !IpDrop(r)));

        // Counting does not make the binding drift (the counter values are not part of the rule).
        Assert.Equal(BindingDriftStatus.InSync, Assert.Single(lab.Manager.TestAsync([vm0.PortDevice]).GetAwaiter().GetResult()).Status);

        // The reset returns what the counters held and zeroes them.
        var (held, _) = Read(lab, vm0.PortDevice, reset: true);
        Assert.True(Packets(held, IpDrop) >= Packets(forged, IpDrop));
        Assert.Equal(Packets(forged, IpReturn), Packets(held, IpReturn));
        var (after, _) = Read(lab, vm0.PortDevice);
        Assert.Equal(0, Packets(after, IpChain));
        Assert.Equal(0, Packets(after, Incoming));
        Assert.Equal(start.Count, after.Count);

        // Counting goes on after the reset.
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, count: 2, timeout: TimeSpan.FromSeconds(3)));
        Assert.Equal(2, Packets(Read(lab, vm0.PortDevice).Rules, IpReturn));
    }

    [SkippableFact]
    public void AnNftablesBindingWithoutCountersSaysSoAndHasNoCounterStatements()
    {
        LabPrerequisites.Require();
        using var lab = BindingLab.Create(2, FirewallBackendKind.Nftables);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(BindingLab.CleanTraffic(vm0), BindingLab.CleanTraffic(vm1) with { Counters = true });

        var (rules, problems) = Read(lab, vm0.PortDevice);
        Assert.Empty(rules);
        Assert.StartsWith(ApplyCodes.StatisticsOff + ":", Assert.Single(problems), StringComparison.Ordinal);

        // Only the rules made from rule instances of the counting port count; jumps and the other port's rules do not.
        var listing = lab.Lab.RunInHostChecked("nft", "list", "table", "bridge", "nwfilter").StandardOutput;
        var counting = listing.Split('\n').Where(l => l.Contains("counter packets ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(counting);
        Assert.All(counting, l => Assert.Contains("comment \"nwf:", l, StringComparison.Ordinal));
        Assert.DoesNotContain(listing.Split('\n'), l => l.Contains("jump ", StringComparison.Ordinal) && l.Contains(" counter ", StringComparison.Ordinal));
        var (vm1Rules, vm1Problems) = Read(lab, vm1.PortDevice);
        Assert.Empty(vm1Problems);
        Assert.NotEmpty(vm1Rules);
        Assert.True(counting.Count == vm1Rules.Where(r => !r.Chain.StartsWith('F') && !r.Chain.StartsWith('H')).Sum(r => r.KernelRules),
            string.Join("\n", counting) + "\n----\n" + string.Join("\n", vm1Rules.Select(r => $"{r.Chain} {r.Filter} {r.Priority} {r.KernelRules}")));
    }
}
