using System.Text.RegularExpressions;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// Moving a host's bindings between backends (Restore-NwFilterBinding -Backend) while traffic flows: a ping flood
/// from vm0 (allowed by clean-traffic) loses no packet while both filtered ports move EbIpTables -> Nftables ->
/// EbIpTables ... again and again, and a flood of forged-MAC frames from vm0 (dropped by clean-traffic on either
/// backend) never reaches vm1, while the same forged frame from the unfiltered vm2 does (the positive control): at
/// no moment of a move is a port unfiltered. After each move only the new backend's rules remain.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed partial class BackendMoveUnderLoadTests
{
    private const string Forged = "52:54:00:66:66:66";

    [SkippableFact]
    public void MovingEveryBindingBetweenBackendsUnderAFloodLosesNothingAndLetsNoForgeryThrough()
    {
        using var lab = BindingLab.Create(3);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        lab.Apply(BindingLab.CleanTraffic(vm0) with { Backend = FirewallBackendKind.EbIpTables }, BindingLab.CleanTraffic(vm1) with { Backend = FirewallBackendKind.EbIpTables });
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), "the allowed ping passes before the moves");
        var forgery = Frames.Arp(Forged, 1, Forged, vm0.IPv4, "00:00:00:00:00:00", vm1.IPv4);
        Assert.True(lab.Lab.FrameArrives(vm2, vm1, Frames.Arp(Forged, 1, Forged, vm2.IPv4, "00:00:00:00:00:00", vm1.IPv4), $"ether src {Forged}"),
            "positive control: the forged frame from the unfiltered vm2 arrives");
        Assert.False(lab.Lab.FrameArrives(vm0, vm1, forgery, $"ether src {Forged}"), "the forged frame from vm0 is dropped before the moves");

        using var capture = lab.Lab.StartBackground(vm1.Namespace, "tcpdump", "-i", vm1.Interface, "-nn", "-l", "-p", $"ether src {Forged}");
        capture.WaitForError("listening on", TimeSpan.FromSeconds(5));
        using var ping = lab.Lab.StartBackground(vm0.Namespace, "ping", "-n", "-q", "-i", "0.005", "-c", "1000", "-W", "2", vm1.IPv4);
        using var forgeries = lab.Lab.StartFrameFlood(vm0, forgery, 1000, 0.004);

        var moves = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(3.5))
        {
            var target = moves % 2 == 0 ? FirewallBackendKind.Nftables : FirewallBackendKind.EbIpTables;
            var result = lab.Manager.RestoreAsync(backend: target).GetAwaiter().GetResult();
            Assert.All(result.Items, i => Assert.True(i.Succeeded, $"{i.PortDevice}: {i.Error?.Message}"));
            Assert.Empty(result.Warnings);
            Assert.All(lab.Store.List().Bindings, b => Assert.Equal(target, b.Backend));
            AssertOnlyRulesOf(lab, target, vm0.PortDevice, vm1.PortDevice);
            moves++;
        }
        Assert.True(ping.WaitForExit(TimeSpan.FromSeconds(30)), "ping finished");
        forgeries.WaitForExit(TimeSpan.FromSeconds(30));
        Thread.Sleep(300);

        var summary = SummaryPattern().Match(ping.Output);
        Assert.True(summary.Success, ping.Output);
        Assert.True(moves >= 4, $"only {moves} moves ran");
        Assert.Equal(summary.Groups[1].Value, summary.Groups[2].Value);
        Assert.DoesNotContain(Forged, capture.Output, StringComparison.OrdinalIgnoreCase);
        Assert.True(lab.Lab.FrameArrives(vm2, vm1, Frames.Arp(Forged, 1, Forged, vm2.IPv4, "00:00:00:00:00:00", vm1.IPv4), $"ether src {Forged}"),
            "positive control after the moves");
    }

    /// <summary>After a move: the ports' chains exist in the target backend only.</summary>
    private static void AssertOnlyRulesOf(BindingLab lab, FirewallBackendKind target, params string[] ports)
    {
        var xtables = lab.Save();
        var nft = lab.Lab.RunInHostChecked("nft", "list", "chains").StandardOutput;
        foreach (var port in ports)
        {
            Assert.Equal(target == FirewallBackendKind.EbIpTables, xtables.Contains("libvirt-I-" + port, StringComparison.Ordinal));
            Assert.Equal(target == FirewallBackendKind.Nftables, nft.Contains($"chain {port}/", StringComparison.Ordinal));
        }
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex SummaryPattern();
}
