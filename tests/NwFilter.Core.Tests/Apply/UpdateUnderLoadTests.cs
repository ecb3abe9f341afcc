using System.Text.RegularExpressions;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// Filter updates while traffic flows: a ping flood from vm0 (allowed by both clean-traffic and test-eth0) loses no
/// packet while the binding switches between them again and again, and a flood of forged-MAC frames (dropped by both)
/// never gets through: at no moment is the port unfiltered.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed partial class UpdateUnderLoadTests
{
    [SkippableFact]
    public void SwitchingFiltersUnderAPingFloodLosesNothingAndLetsNoForgeryThrough()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        var clean = BindingLab.CleanTraffic(vm0);
        var custom = BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4));
        lab.Apply(clean);
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)));

        const string Forged = "52:54:00:66:66:66";
        using var capture = lab.Lab.StartBackground(vm1.Namespace, "tcpdump", "-i", vm1.Interface, "-nn", "-l", "-p", $"ether src {Forged}");
        capture.WaitForError("listening on", TimeSpan.FromSeconds(5));
        using var ping = lab.Lab.StartBackground(vm0.Namespace, "ping", "-n", "-q", "-i", "0.005", "-c", "1000", "-W", "2", vm1.IPv4);
        using var forgeries = lab.Lab.StartFrameFlood(vm0, Frames.Arp(Forged, 1, Forged, vm0.IPv4, "00:00:00:00:00:00", vm1.IPv4), 1000, 0.004);

        var swaps = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(3.5))
        {
            lab.Apply(swaps % 2 == 0 ? custom : clean);
            swaps++;
        }
        Assert.True(ping.WaitForExit(TimeSpan.FromSeconds(30)), "ping finished");
        forgeries.WaitForExit(TimeSpan.FromSeconds(30));
        Thread.Sleep(300);

        var summary = SummaryPattern().Match(ping.Output);
        Assert.True(summary.Success, ping.Output);
        Assert.True(swaps >= 4, $"only {swaps} updates ran");
        Assert.Equal(summary.Groups[1].Value, summary.Groups[2].Value);
        Assert.DoesNotContain(Forged, capture.Output, StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex SummaryPattern();
}
