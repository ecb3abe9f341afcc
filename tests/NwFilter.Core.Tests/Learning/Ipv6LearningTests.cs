using System.Buffers.Binary;
using System.Net;
using NwFilter.Core.Apply;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using static NwFilter.Core.Tests.TestSupport.LearningPackets;

namespace NwFilter.Core.Tests.Learning;

/// <summary>
/// IPv6 address learning (CTRL_IPV6_LEARNING, issue 15) without the kernel: when the resolver asks for it, what the
/// decoder takes from NDP, what the learner learns and refuses, and how the binding manager plans with it.
/// </summary>
public sealed class Ipv6LearningTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly InMemoryFilterSource BuiltIns = new(BuiltInFilters.All);
    private const string LinkLocal = "fe80::5054:ff:fed5:10";

    private readonly TempDirectory state = new("nwfilter-learn6");
    private readonly ManualTimeProvider clock = new();
    private readonly FakeFrameSource source = new();
    private readonly RecordingSink sink = new();
    private readonly List<IpLearnerRegistry> registries = [];

    public void Dispose()
    {
        foreach (var registry in registries)
        {
            registry.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        state.Dispose();
    }

    /// <summary>A neighbour solicitation from the VM: from :: for duplicate address detection, or from an address.</summary>
    internal static byte[] NeighbourSolicitation(string target, string from = "::", byte hopLimit = 255)
    {
        var frame = new byte[14 + 40 + 24];
        Convert.FromHexString("3333ff000010").CopyTo(frame, 0);
        VmMac.GetAddressBytes().CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x86dd);
        frame[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(18), 24);
        frame[20] = 58;
        frame[21] = hopLimit;
        IPAddress.Parse(from).GetAddressBytes().CopyTo(frame, 22);
        IPAddress.Parse("ff02::1:ff00:10").GetAddressBytes().CopyTo(frame, 38);
        frame[54] = 135;
        IPAddress.Parse(target).GetAddressBytes().CopyTo(frame, 62);
        return frame;
    }

    private static NwFilter.Core.Resolution.Resolution Resolve(params (string, string)[] parameters) =>
        FilterResolver.Resolve(BuiltIns, "nwfilter-clean-traffic-dual-stack", Build.Params(parameters), VmMac, TestValues.Options);

    [Fact]
    public void AMissingIpv6IsLearnedInTheModeOfCtrlIpv6LearningWhichDefaultsToCtrlIpLearning()
    {
        var only6 = Resolve(("IP", "10.213.0.5"));
        Assert.Equal((ResolutionStatus.NeedsIpLearning, IpLearningMode.Any, false, true), (only6.Status, only6.IpLearning, only6.LearnIPv4, only6.LearnIPv6));
        Assert.Equal(IpLearningMode.Dhcp, Resolve(("IP", "10.213.0.5"), ("CTRL_IPV6_LEARNING", "dhcp")).IpLearning);
        Assert.Equal(IpLearningMode.Dhcp, Resolve(("IP", "10.213.0.5"), ("CTRL_IP_LEARNING", "dhcp")).IpLearning);

        var both = Resolve();
        Assert.Equal((ResolutionStatus.NeedsIpLearning, true, true), (both.Status, both.LearnIPv4, both.LearnIPv6));
        var ip4Only = Resolve(("IPV6", "fd00:213::5"));
        Assert.Equal((true, false), (ip4Only.LearnIPv4, ip4Only.LearnIPv6));
        Assert.Equal(ResolutionStatus.Resolved, Resolve(("IP", "10.213.0.5"), ("IPV6", "fd00:213::5")).Status);
    }

    [Fact]
    public void NoneOrABadValueOrTwoModesAtOnceAreErrorsThatSayWhy()
    {
        var none = Assert.Throws<NwFilterException>(() => Resolve(("IP", "10.213.0.5"), ("CTRL_IPV6_LEARNING", "none")));
        Assert.Equal(FilterResolver.UnresolvedVariableCode, none.Primary.Code);
        Assert.Contains("variable IPV6 is not defined", none.Primary.Message, StringComparison.Ordinal);
        Assert.Contains("CTRL_IPV6_LEARNING is 'none'", none.Primary.Message, StringComparison.Ordinal);

        var bad = Assert.Throws<NwFilterException>(() => Resolve(("IP", "10.213.0.5"), ("CTRL_IPV6_LEARNING", "slaac")));
        Assert.Equal(FilterResolver.InvalidIpLearningCode, bad.Primary.Code);
        Assert.Contains("'slaac' of CTRL_IPV6_LEARNING", bad.Primary.Message, StringComparison.Ordinal);

        var conflict = Assert.Throws<NwFilterException>(() => Resolve(("CTRL_IP_LEARNING", "dhcp"), ("CTRL_IPV6_LEARNING", "any")));
        Assert.Equal(FilterResolver.InvalidIpLearningCode, conflict.Primary.Code);
        Assert.Contains("learned in one mode", conflict.Primary.Message, StringComparison.Ordinal);

        var badServer = Assert.Throws<NwFilterException>(() => IpLearnerOptions.ParseServers6(["fe80::1", "10.0.0.1", "ff02::1:2", "::"]));
        Assert.Equal(3, badServer.Diagnostics.Length);
        Assert.Contains("DHCPV6SERVER value '10.0.0.1' is not an IPv6 unicast address", badServer.Diagnostics[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLinkLocalAddressComesFromTheMacAsModifiedEui64()
    {
        Assert.Equal(LinkLocal, IpLearnerOptions.LinkLocalOf(VmMac).ToString());
        Assert.Equal("fe80::ff:fe00:1", IpLearnerOptions.LinkLocalOf(System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-01")).ToString());
    }

    [Fact]
    public void DuplicateAddressDetectionTeachesItsTargetOtherSolicitationsOnlyTheirSource()
    {
        Assert.Equal(new AddressClaim(IPAddress.Parse("2001:db8::10"), AddressSource.Ndp), FrameDecoder.Decode(NeighbourSolicitation("2001:db8::10"), FrameDecoder.MacValue(VmMac)));
        // A solicitation from an address (address resolution) claims that source, not the target it asks about.
        Assert.Equal(new AddressClaim(IPAddress.Parse(LinkLocal), AddressSource.IPv6Packet),
            FrameDecoder.Decode(NeighbourSolicitation("2001:db8::99", from: LinkLocal), FrameDecoder.MacValue(VmMac)));
        // NDP with a hop limit below 255 was routed: not NDP (RFC 4861 7.1.1), only its source counts.
        Assert.Equal(new AddressClaim(IPAddress.IPv6Any, AddressSource.IPv6Packet), FrameDecoder.Decode(NeighbourSolicitation("2001:db8::10", hopLimit: 64), FrameDecoder.MacValue(VmMac)));
        // Every truncation of the solicitation decodes without throwing.
        var frame = NeighbourSolicitation("2001:db8::10");
        for (var n = 0; n < frame.Length; n++)
        {
            _ = FrameDecoder.Decode(frame.AsSpan(0, n).ToArray(), FrameDecoder.MacValue(VmMac));
        }
    }

    [Fact]
    public async Task AnIpv6OnlyLearnerIgnoresIpv4AndUnusableAddressesAndStopsAtTheFirstUsableOne()
    {
        await using var learner = new IpLearner(new IpLearnerOptions("vnet0", VmMac, IpLearningMode.Any) { LearnIPv4 = false, LearnIPv6 = true },
            source, sink, null, clock);
        await learner.StartAsync();
        source.Send(Ipv4FromVm("10.213.0.10"));
        source.Send(NeighbourSolicitation(LinkLocal));          // link-local: known without learning
        source.Send(Ipv6FromVm("::1"));                         // loopback
        source.Send(Ipv6FromVm("ff05::2"));                     // multicast
        source.Send(Ipv6FromVm("::ffff:10.213.0.10"));          // IPv4-mapped
        source.Send(NeighbourSolicitation("ff02::1"));          // a multicast target
        source.Send(NeighbourSolicitation("::"));               // unspecified
        source.Send(NeighbourSolicitation("fd00:213::10"));     // DAD for the address SLAAC chose
        source.Send(Ipv6FromVm("fd00:213::11"));
        await learner.Completion.WaitAsync(Wait);

        Assert.Equal(IpLearningState.Learned, learner.State);
        var learned = Assert.Single(learner.Addresses);
        Assert.Equal(("fd00:213::10", AddressSource.Ndp), (learned.Address.ToString(), learned.Source));
        var change = Assert.Single(sink.Changes);
        Assert.Empty(change.IPv4Values);
        Assert.Equal(["fd00:213::10"], change.IPv6Values.ToArray());
    }

    [Fact]
    public async Task InDhcpModeOnlyTheTrustedDhcpV6ServersRepliesAreLeasesAndTheyExpire()
    {
        await using var learner = new IpLearner(new IpLearnerOptions("vnet0", VmMac, IpLearningMode.Dhcp)
        {
            LearnIPv4 = false,
            LearnIPv6 = true,
            Dhcpv6Servers = [IPAddress.Parse("fe80::1")],
        }, source, sink, null, clock);
        await learner.StartAsync();
        Assert.Contains("src port 547 and dst port 546", Assert.Single(source.Requests).Filter, StringComparison.Ordinal);
        source.Send(Dhcpv6Reply("fd00:213::66", 600, server: "fe80::66"));  // a rogue server
        source.Send(DhcpReply(DhcpMessageType.Ack, "10.213.0.120"));         // IPv4 is given, not learned
        source.Send(Dhcpv6Reply("fd00:213::20", 600));
        await WaitFor(() => sink.Changes.Count == 1);
        Assert.Equal(["fd00:213::20"], learner.Addresses.Select(a => a.Address.ToString()));
        Assert.Equal(IPAddress.Parse("fe80::1"), learner.Addresses[0].Server);

        clock.Advance(TimeSpan.FromSeconds(601));
        await WaitFor(() => sink.Changes.Count == 2);
        Assert.Empty(learner.Addresses);
        Assert.False(learner.Completion.IsCompleted); // snooping goes on
    }

    private BindingManager Manager()
    {
        var learners = new IpLearnerRegistry(new LeaseStore(state.Combine("leases")), source, clock);
        registries.Add(learners);
        return new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = "nwft-absent",
            Filters = BuiltIns,
            Store = new BindingStore(state.Combine("bindings"), "nwft-absent"),
            Learners = learners,
        });
    }

    private static FilterBinding DualStack(params (string Name, string Value)[] parameters) =>
        new("vnet0", VmMac, "nwfilter-clean-traffic-dual-stack") { OwnerName = "vm0", OwnerUuid = Guid.NewGuid(), Parameters = Build.Params(parameters) };

    [Fact]
    public void ABindingLearningIpv6IsPlannedWithItsLinkLocalAddressAndThenWithWhatWasLearned()
    {
        var manager = Manager();
        var binding = DualStack(("IP", "10.213.0.5"));
        var plan = manager.PlanApply(FirewallSnapshot.Empty(), [binding]).ToString();
        Assert.Contains("--ip-source 10.213.0.5 -j RETURN", plan, StringComparison.Ordinal);
        Assert.Matches($"--ip6-source {LinkLocal}(/128)? -j RETURN", plan);
        Assert.DoesNotContain("fd00:213::10", plan, StringComparison.Ordinal);
        var status = manager.GetLearningStatus(binding)!;
        Assert.Equal((IpLearningMode.Any, IpLearningState.NotStarted), (status.Mode, status.State));

        manager.Learners!.Store!.Save("vnet0", VmMac, IpLearningMode.Any,
            [new LearnedAddress(IPAddress.Parse("fd00:213::10"), AddressSource.Ndp, clock.GetUtcNow(), null, null)]);
        plan = manager.PlanApply(FirewallSnapshot.Empty(), [binding]).ToString();
        Assert.Matches($"--ip6-source {LinkLocal}(/128)? -j RETURN", plan);
        Assert.Matches("--ip6-source fd00:213::10(/128)? -j RETURN", plan);
        Assert.Equal(IpLearningState.Learned, manager.GetLearningStatus(binding)!.State);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
