using System.Globalization;
using System.Net;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using static NwFilter.Core.Tests.TestSupport.LearningPackets;

namespace NwFilter.Core.Tests.Learning;

/// <summary>
/// A guest flooding the learner with fake addresses (issue 15, bad input): in any mode the first usable address is the
/// only one ever learned, and a flood of addresses no VM can own is reported; in dhcp mode the leases stay bounded,
/// the DHCPv6 replies are rate limited, and both are reported.
/// </summary>
public sealed class AddressFloodTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly ManualTimeProvider clock = new();
    private readonly FakeFrameSource source = new();
    private readonly RecordingSink sink = new();

    private static Task<List<LearningWarning>> WarningsAsync(IpLearner learner, int atLeast) =>
        WarningsUntilAsync(learner, w => w.Count >= atLeast);

    private static async Task<List<LearningWarning>> WarningsUntilAsync(IpLearner learner, Func<List<LearningWarning>, bool> enough)
    {
        var warnings = new List<LearningWarning>();
        using var timeout = new CancellationTokenSource(Wait);
        while (!enough(warnings))
        {
            if (await learner.Events.ReadAsync(timeout.Token) is LearningWarning w)
            {
                warnings.Add(w);
            }
        }
        return warnings;
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    [Fact]
    public async Task InAnyModeAFloodOfFakeIpv6AddressesTeachesOnlyTheFirstUsableOneAndUnownableOnesAreReported()
    {
        await using var learner = new IpLearner(new IpLearnerOptions("vnet0", VmMac, IpLearningMode.Any) { LearnIPv4 = false, LearnIPv6 = true },
            source, sink, null, clock);
        await learner.StartAsync();
        for (var i = 0; i < IpLearner.RefusedClaimsWarning; i++)
        {
            source.Send(Ipv6FromVm((i % 3) switch
            {
                0 => $"ff05::{i:x}",
                1 => "::1",
                _ => $"::ffff:10.213.0.{i}",
            }));
        }
        var warning = Assert.Single(await WarningsAsync(learner, 1));
        Assert.Contains($"{IpLearner.RefusedClaimsWarning} frames claimed addresses no VM can own", warning.Message, StringComparison.Ordinal);
        Assert.Empty(learner.Addresses);

        for (var i = 0; i < 5000; i++)
        {
            source.Send(Ipv6FromVm("fd00:213::" + (0x1000 + i).ToString("x", CultureInfo.InvariantCulture)));
        }
        await learner.Completion.WaitAsync(Wait);
        Assert.Equal(IpLearningState.Learned, learner.State);
        Assert.Equal("fd00:213::1000", Assert.Single(learner.Addresses).Address.ToString());
        Assert.Equal(["fd00:213::1000"], Assert.Single(sink.Changes).IPv6Values.ToArray());
    }

    [Fact]
    public async Task AFewUnownableClaimsAreNotReported()
    {
        await using var learner = new IpLearner(new IpLearnerOptions("vnet0", VmMac, IpLearningMode.Any) { LearnIPv4 = false, LearnIPv6 = true },
            source, sink, null, clock);
        await learner.StartAsync();
        for (var i = 0; i < IpLearner.RefusedClaimsWarning - 1; i++)
        {
            source.Send(Ipv6FromVm("ff05::2"));
        }
        source.Send(Ipv6FromVm("fd00:213::7"));
        await learner.Completion.WaitAsync(Wait);
        Assert.Equal("fd00:213::7", Assert.Single(learner.Addresses).Address.ToString());
        while (learner.Events.TryRead(out var e))
        {
            Assert.IsNotType<LearningWarning>(e);
        }
    }

    [Fact]
    public async Task InDhcpModeAFloodOfDhcpv6LeasesIsBoundedRateLimitedAndReported()
    {
        var options = new IpLearnerOptions("vnet0", VmMac, IpLearningMode.Dhcp)
        {
            LearnIPv4 = false,
            LearnIPv6 = true,
            Dhcpv6Servers = [IPAddress.Parse("fe80::1")],
        };
        await using var learner = new IpLearner(options, source, sink, null, clock);
        await learner.StartAsync();
        // The clock stands still: the limiter admits its burst and nothing more.
        for (var i = 0; i < options.DhcpBurst + 100; i++)
        {
            source.Send(Dhcpv6Reply("fd00:213::" + (0x2000 + i).ToString("x", CultureInfo.InvariantCulture), 600));
        }
        await WaitFor(() => learner.Addresses.Length == options.MaxLeases);
        var warnings = await WarningsUntilAsync(learner, w => w.Any(x => x.Message.Contains("rate limit", StringComparison.Ordinal)));
        Assert.Contains(warnings, w => w.Message.Contains($"already {options.MaxLeases} leases", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Message.Contains("frames ignored over the rate limit or queue length", StringComparison.Ordinal));
        Assert.Equal(options.MaxLeases, learner.Addresses.Length);
        Assert.All(learner.Addresses, a => Assert.True(AddressRules.IsUsableIPv6(a.Address)));
    }
}
