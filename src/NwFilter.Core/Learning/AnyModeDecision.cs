using System.Net;
using System.Net.Sockets;

namespace NwFilter.Core.Learning;

/// <summary>Which addresses may be learned, and from which servers.</summary>
internal static class AddressRules
{
    /// <summary>
    /// An IPv4 address a VM can own: not 0.0.0.0, not multicast or class E (224.0.0.0 and above, as libvirt), and, beyond
    /// libvirt, not loopback (127.0.0.0/8).
    /// </summary>
    public static bool IsUsableIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return bytes[0] is not (0 or 127) && bytes[0] < 224;
    }

    /// <summary>An IPv6 address worth learning: global or unique-local unicast (not ::, ::1, link-local or multicast).</summary>
    public static bool IsUsableIPv6(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 && !address.Equals(IPAddress.IPv6None) &&
        !address.Equals(IPAddress.IPv6Loopback) && !address.IsIPv6LinkLocal && !address.IsIPv6Multicast &&
        !address.IsIPv6SiteLocal && !address.IsIPv4MappedToIPv6;

    /// <summary>
    /// An address no VM can own, which a well-behaved guest does not send from: IPv4 loopback, multicast and class E,
    /// IPv6 multicast, loopback and IPv4-mapped. The unspecified addresses and link-local ones are not among them (a
    /// guest's DHCP, ARP probes, DAD and router solicitation use them).
    /// </summary>
    public static bool IsNeverOwnable(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> bytes = stackalloc byte[4];
            address.TryWriteBytes(bytes, out _);
            return bytes[0] == 127 || bytes[0] >= 224;
        }
        return address.IsIPv6Multicast || address.Equals(IPAddress.IPv6Loopback) || address.IsIPv4MappedToIPv6;
    }

    /// <summary>True when <paramref name="server"/> may be believed: no list is given, or it is on the list (of its family).</summary>
    public static bool IsTrustedServer(IPAddress server, IReadOnlyCollection<IPAddress> servers)
    {
        var ofFamily = servers.Where(s => s.AddressFamily == server.AddressFamily).ToList();
        return ofFamily.Count == 0 || ofFamily.Contains(server);
    }
}

/// <summary>
/// <c>CTRL_IP_LEARNING='any'</c> (libvirt's learner, 8.2), as a pure decision on one observation: the first usable
/// IPv4 source address the VM sends, or the <c>yiaddr</c> of a DHCP OFFER or ACK sent to it. Beyond libvirt: ARP from
/// the VM counts (libvirt's ARP branch is unreachable), the DHCPSERVER list is honoured here too, and IPv6 addresses
/// are learned when asked.
/// </summary>
internal static class AnyModeDecision
{
    /// <summary>The address this observation teaches, or null.</summary>
    /// <param name="observation">The decoded frame.</param>
    /// <param name="servers">DHCPSERVER (empty: any server).</param>
    /// <param name="learnIPv6">Whether IPv6 addresses are learned too.</param>
    /// <param name="now">The time to stamp.</param>
    public static LearnedAddress? Decide(Observation observation, IReadOnlyCollection<IPAddress> servers, bool learnIPv6, DateTimeOffset now)
    {
        switch (observation)
        {
            case AddressClaim { Address: var address, Source: var source } when AddressRules.IsUsableIPv4(address):
                return new LearnedAddress(address, source, now, null, null);
            case AddressClaim { Address: var address, Source: var source } when learnIPv6 && AddressRules.IsUsableIPv6(address):
                return new LearnedAddress(address, source, now, null, null);
            case DhcpFromVm { SourceAddress: var address } when AddressRules.IsUsableIPv4(address):
                // A renewing client already uses its address: as good as any IPv4 packet (libvirt sees it that way).
                return new LearnedAddress(address, AddressSource.IPv4Packet, now, null, null);
            case DhcpToVm { Message: { MessageType: DhcpMessageType.Offer or DhcpMessageType.Ack } message, ServerAddress: var server }
                when AddressRules.IsUsableIPv4(message.YourAddress) && AddressRules.IsTrustedServer(server, servers):
                return new LearnedAddress(message.YourAddress, AddressSource.Dhcp, now, null, server);
            case Dhcpv6ToVm { Addresses: var addresses, ServerAddress: var server }
                when learnIPv6 && AddressRules.IsTrustedServer(server, servers):
                foreach (var (address, valid) in addresses)
                {
                    if (valid > 0 && AddressRules.IsUsableIPv6(address))
                    {
                        return new LearnedAddress(address, AddressSource.Dhcpv6, now, null, server);
                    }
                }
                return null;
            default:
                return null;
        }
    }
}
