using System.Net;
using NwFilter.Core.Learning;
using static NwFilter.Core.Tests.TestSupport.LearningPackets;

namespace NwFilter.Core.Tests.Learning;

public sealed class DhcpLeaseTableTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly ulong Vm = FrameDecoder.MacValue(VmMac);

    private static DhcpLeaseTable Table(IPAddress[]? servers = null, int max = 16, bool ipv6 = false) => new("vnet0", servers ?? [], ipv6, max);

    private static IpLearningEvent? Apply(DhcpLeaseTable table, byte[] frame, DateTimeOffset now) =>
        FrameDecoder.Decode(frame, Vm) is { } observation ? table.Apply(observation, now) : null;

    [Fact]
    public void AnAckAddsALeaseThatEndsAfterItsLeaseTime()
    {
        var table = Table();
        var learned = Assert.IsType<AddressLearned>(Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 120), T0));
        Assert.Equal(IPAddress.Parse("10.213.0.120"), learned.Address.Address);
        Assert.Equal(T0.AddSeconds(120), learned.Address.Expires);
        Assert.Equal(Server, learned.Address.Server);
        Assert.Equal("vnet0", learned.PortDevice);
        Assert.Equal(T0.AddSeconds(120), table.NextExpiry);
    }

    [Fact]
    public void AnOfferIsNotALease()
    {
        Assert.Null(Apply(Table(), DhcpReply(DhcpMessageType.Offer, "10.213.0.120", 120), T0));
    }

    [Fact]
    public void ARenewalMovesTheEndLaterButNeverEarlier()
    {
        var table = Table();
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600), T0);
        var renewed = Assert.IsType<LeaseRenewed>(Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600), T0.AddSeconds(300)));
        Assert.Equal(T0.AddSeconds(900), renewed.Address.Expires);
        Assert.Equal(T0, renewed.Address.LearnedAt);
        var shorter = Assert.IsType<LeaseRenewed>(Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 10), T0.AddSeconds(301)));
        Assert.Equal(T0.AddSeconds(900), shorter.Address.Expires);
        Assert.Single(table.Leases);
    }

    [Fact]
    public void InfiniteAndMissingLeaseTimesNeverEnd()
    {
        var table = Table();
        Assert.Null(Assert.IsType<AddressLearned>(Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 0xffffffff), T0)).Address.Expires);
        Assert.Null(Assert.IsType<AddressLearned>(Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.121", null), T0)).Address.Expires);
        Assert.Null(table.NextExpiry);
        Assert.Empty(table.Expire(T0.AddYears(5)));
    }

    [Fact]
    public void SeveralLeasesAreHeldAtOnce()
    {
        var table = Table();
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600), T0);
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.121", 300), T0);
        Assert.Equal(["10.213.0.120", "10.213.0.121"], table.Leases.Select(l => l.Address.ToString()));
        Assert.Equal(T0.AddSeconds(300), table.NextExpiry);
    }

    [Fact]
    public void ReleaseRemovesTheLeaseOfCiaddr()
    {
        var table = Table();
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600), T0);
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.121", 600), T0);
        var released = Assert.IsType<LeaseReleased>(Apply(table, DhcpRequest(DhcpMessageType.Release, ciaddr: "10.213.0.120"), T0.AddSeconds(5)));
        Assert.Equal(LeaseEndReason.Released, released.Reason);
        Assert.Equal(IPAddress.Parse("10.213.0.120"), released.Address.Address);
        Assert.Equal(["10.213.0.121"], table.Leases.Select(l => l.Address.ToString()));
        Assert.Null(Apply(table, DhcpRequest(DhcpMessageType.Release, ciaddr: "10.213.0.120"), T0.AddSeconds(6)));
    }

    [Fact]
    public void DeclineFromTheVmRemovesTheRequestedAddress()
    {
        var table = Table();
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600), T0);
        var declined = Assert.IsType<LeaseReleased>(Apply(table, DhcpRequest(DhcpMessageType.Decline, requested: "10.213.0.120"), T0));
        Assert.Equal(LeaseEndReason.Declined, declined.Reason);
        Assert.Empty(table.Leases);
    }

    [Fact]
    public void ReleasesFromAnotherVmAreNotSeen()
    {
        var table = Table();
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600), T0);
        Assert.Null(Apply(table, DhcpRequest(DhcpMessageType.Release, ciaddr: "10.213.0.120", mac: OtherMac), T0));
        Assert.Single(table.Leases);
    }

    [Fact]
    public void ARogueServerIsIgnoredWhenDhcpServersAreGiven()
    {
        var table = Table([Server]);
        Assert.Null(Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.200", 600, server: RogueServer), T0));
        Assert.IsType<AddressLearned>(Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 600, server: Server), T0));
        Assert.Equal(["10.213.0.120"], table.Leases.Select(l => l.Address.ToString()));
    }

    [Fact]
    public void LeasesExpireAtTheirEndOneEventEach()
    {
        var table = Table();
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 60), T0);
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.121", 60), T0);
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.122", 120), T0);
        Assert.Empty(table.Expire(T0.AddSeconds(59)));
        var expired = table.Expire(T0.AddSeconds(60));
        Assert.Equal(["10.213.0.120", "10.213.0.121"], expired.Select(e => e.Address.Address.ToString()));
        Assert.All(expired, e => Assert.Equal(T0.AddSeconds(60), e.Time));
        Assert.Equal(T0.AddSeconds(120), table.NextExpiry);
    }

    [Fact]
    public void TheNumberOfLeasesIsBounded()
    {
        var table = Table(max: 2);
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.120", 60), T0);
        Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.121", 60), T0);
        Assert.IsType<LearningWarning>(Apply(table, DhcpReply(DhcpMessageType.Ack, "10.213.0.122", 60), T0));
        Assert.Equal(2, table.Leases.Length);
    }

    [Fact]
    public void RestoringKeepsOnlyLeasesStillValid()
    {
        var table = Table();
        table.Restore(
        [
            new LearnedAddress(IPAddress.Parse("10.213.0.120"), AddressSource.Dhcp, T0.AddHours(-1), T0.AddSeconds(-1), Server),
            new LearnedAddress(IPAddress.Parse("10.213.0.121"), AddressSource.Dhcp, T0.AddHours(-1), T0.AddSeconds(30), Server),
        ], T0);
        Assert.Equal(["10.213.0.121"], table.Leases.Select(l => l.Address.ToString()));
    }

    [Fact]
    public void Dhcpv6RepliesAddAndZeroLifetimesRemoveWhenIPv6IsOn()
    {
        Assert.Null(Apply(Table(), Dhcpv6Reply("fd00:213::99", 600), T0));
        var table = Table(ipv6: true);
        Assert.IsType<AddressLearned>(Apply(table, Dhcpv6Reply("fd00:213::99", 600), T0));
        Assert.IsType<LeaseRenewed>(Apply(table, Dhcpv6Reply("fd00:213::99", 600), T0.AddSeconds(1)));
        Assert.IsType<LeaseReleased>(Apply(table, Dhcpv6Reply("fd00:213::99", 0), T0.AddSeconds(2)));
        Assert.Empty(table.Leases);
    }

    [Fact]
    public void IPv4ServerListsDoNotBlockDhcpv6Servers()
    {
        var table = Table([Server], ipv6: true);
        Assert.IsType<AddressLearned>(Apply(table, Dhcpv6Reply("fd00:213::99", 600), T0));
    }
}
