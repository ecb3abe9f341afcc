using System.Collections.Immutable;
using System.Net;

namespace NwFilter.Core.Learning;

/// <summary>
/// <c>CTRL_IP_LEARNING='dhcp'</c> (libvirt's DHCP snooping, 8.3) as a pure state machine over observations and a clock
/// value: a DHCPACK to the VM from a trusted server adds or renews the lease of its <c>yiaddr</c> (several at once);
/// the VM's DHCPRELEASE or DHCPDECLINE removes one; leases run out at their end. Not thread-safe: the learner's
/// single task owns it.
/// </summary>
/// <remarks>
/// Differences from libvirt, each on purpose: DECLINE is taken from the VM (where RFC 2131 sends it; libvirt only
/// looks for it on the server side); the DHCPSERVER list is checked here as well as in the firewall rules; an ACK
/// without a lease time (option 51) makes an infinite lease instead of one that is already over; the number of leases is
/// bounded.
/// </remarks>
internal sealed class DhcpLeaseTable
{
    private readonly List<LearnedAddress> leases = [];
    private readonly string portDevice;
    private readonly IReadOnlyCollection<IPAddress> servers;
    private readonly bool learnIPv6;
    private readonly int maxLeases;

    public DhcpLeaseTable(string portDevice, IReadOnlyCollection<IPAddress> servers, bool learnIPv6, int maxLeases)
    {
        this.portDevice = portDevice;
        this.servers = servers;
        this.learnIPv6 = learnIPv6;
        this.maxLeases = maxLeases;
    }

    /// <summary>Whether DHCPv4 leases are taken (false for a binding that gives IP and learns only IPV6).</summary>
    public bool LearnIPv4 { get; init; } = true;

    /// <summary>The current leases, in the order first learned.</summary>
    public ImmutableArray<LearnedAddress> Leases => [.. leases];

    /// <summary>The earliest end of a lease; null when none ends.</summary>
    public DateTimeOffset? NextExpiry => leases.Where(l => l.Expires is not null).Select(l => l.Expires).Min();

    /// <summary>Takes leases read back from the store (the expired ones are left out).</summary>
    public void Restore(IEnumerable<LearnedAddress> restored, DateTimeOffset now)
    {
        foreach (var lease in restored)
        {
            if (lease.IsValidAt(now) && Find(lease.Address) < 0 && leases.Count < maxLeases)
            {
                leases.Add(lease);
            }
        }
    }

    /// <summary>
    /// Applies one observation. Returns the event it causes (<see cref="AddressLearned"/>, <see cref="LeaseRenewed"/>
    /// or <see cref="LeaseReleased"/>) or null when it changes nothing.
    /// </summary>
    public IpLearningEvent? Apply(Observation observation, DateTimeOffset now)
    {
        switch (observation)
        {
            case DhcpToVm { Message: { MessageType: DhcpMessageType.Ack } ack, ServerAddress: var server }
                when LearnIPv4 && AddressRules.IsUsableIPv4(ack.YourAddress) && AddressRules.IsTrustedServer(server, servers):
                return Grant(ack.YourAddress, AddressSource.Dhcp, LeaseEnd(now, ack.LeaseSeconds), server, now);
            case DhcpFromVm { Message: { MessageType: DhcpMessageType.Release } release }:
                return Remove(release.ClientAddress, LeaseEndReason.Released, now);
            case DhcpFromVm { Message: { MessageType: DhcpMessageType.Decline } decline }:
                return Remove(decline.RequestedAddress ?? decline.ClientAddress, LeaseEndReason.Declined, now);
            case Dhcpv6ToVm { Addresses: var addresses, ServerAddress: var server }
                when learnIPv6 && AddressRules.IsTrustedServer(server, servers):
                // One reply can carry several addresses; the first change is reported (the learner asks again).
                foreach (var (address, valid) in addresses)
                {
                    if (!AddressRules.IsUsableIPv6(address))
                    {
                        continue;
                    }
                    var change = valid == 0
                        ? Remove(address, LeaseEndReason.Released, now)
                        : Grant(address, AddressSource.Dhcpv6, LeaseEnd(now, valid), server, now);
                    if (change is not null)
                    {
                        return change;
                    }
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>Removes the leases that have ended at <paramref name="now"/>; one event each.</summary>
    public IReadOnlyList<LeaseExpired> Expire(DateTimeOffset now)
    {
        var expired = leases.Where(l => !l.IsValidAt(now)).ToList();
        leases.RemoveAll(l => !l.IsValidAt(now));
        return [.. expired.Select(l => new LeaseExpired(portDevice, now, l))];
    }

    /// <summary>The end of a lease given at <paramref name="now"/>; null for infinite (0xffffffff, or no option 51).</summary>
    public static DateTimeOffset? LeaseEnd(DateTimeOffset now, uint? seconds) =>
        seconds is null or DhcpMessage.InfiniteLease ? null : now.AddSeconds(seconds.Value);

    private IpLearningEvent? Grant(IPAddress address, AddressSource source, DateTimeOffset? end, IPAddress server, DateTimeOffset now)
    {
        var index = Find(address);
        if (index >= 0)
        {
            var old = leases[index];
            // As libvirt: a lease's end only moves later (an infinite lease stays infinite).
            var newEnd = old.Expires is null || end is null ? null : (end > old.Expires ? end : old.Expires);
            var renewed = old with { Expires = newEnd, Server = server };
            leases[index] = renewed;
            return new LeaseRenewed(portDevice, now, renewed);
        }
        if (leases.Count >= maxLeases)
        {
            return new LearningWarning(portDevice, now, $"ignored the lease of {address}: already {maxLeases} leases", null);
        }
        var lease = new LearnedAddress(address, source, now, end, server);
        leases.Add(lease);
        return new AddressLearned(portDevice, now, lease);
    }

    private LeaseReleased? Remove(IPAddress address, LeaseEndReason reason, DateTimeOffset now)
    {
        var index = Find(address);
        if (index < 0)
        {
            return null;
        }
        var lease = leases[index];
        leases.RemoveAt(index);
        return new LeaseReleased(portDevice, now, lease, reason);
    }

    private int Find(IPAddress address) => leases.FindIndex(l => l.Address.Equals(address));
}
