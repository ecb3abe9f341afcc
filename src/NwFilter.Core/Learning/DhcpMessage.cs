using System.Buffers.Binary;
using System.Net;

namespace NwFilter.Core.Learning;

/// <summary>DHCP message types (option 53, RFC 2132 9.6).</summary>
public enum DhcpMessageType : byte
{
    /// <summary>No DHCP message type option (a BOOTP message).</summary>
    None = 0,
    /// <summary>DHCPDISCOVER: a client looks for servers.</summary>
    Discover = 1,
    /// <summary>DHCPOFFER: a server offers an address.</summary>
    Offer = 2,
    /// <summary>DHCPREQUEST: a client asks for an offered or known address.</summary>
    Request = 3,
    /// <summary>DHCPDECLINE: a client refuses an address already in use.</summary>
    Decline = 4,
    /// <summary>DHCPACK: a server confirms the lease.</summary>
    Ack = 5,
    /// <summary>DHCPNAK: a server refuses the request.</summary>
    Nak = 6,
    /// <summary>DHCPRELEASE: a client gives its address back.</summary>
    Release = 7,
    /// <summary>DHCPINFORM: a client with an address asks only for configuration.</summary>
    Inform = 8,
}

/// <summary>
/// The parts of a BOOTP/DHCP message (RFC 2131) the learner needs, read from a UDP payload. Parsing never throws: a
/// payload that is not a well-formed DHCP message gives false.
/// </summary>
internal sealed record DhcpMessage
{
    /// <summary>BOOTREQUEST (client to server).</summary>
    public const byte BootRequest = 1;

    /// <summary>BOOTREPLY (server to client).</summary>
    public const byte BootReply = 2;

    /// <summary>The magic cookie that starts the options (99.130.83.99).</summary>
    public const uint MagicCookie = 0x63825363;

    /// <summary>The lease time that means "never ends".</summary>
    public const uint InfiniteLease = 0xffffffff;

    private const int FixedLength = 236;
    private const int SnameOffset = 44;
    private const int SnameLength = 64;
    private const int FileOffset = 108;
    private const int FileLength = 128;

    public byte Operation { get; init; }

    /// <summary>The first six bytes of <c>chaddr</c> (an Ethernet client's MAC).</summary>
    public ulong ClientMac { get; init; }

    /// <summary><c>ciaddr</c>: the client's current address (RELEASE, renewing REQUEST).</summary>
    public IPAddress ClientAddress { get; init; } = IPAddress.Any;

    /// <summary><c>yiaddr</c>: the address the server gives (OFFER, ACK).</summary>
    public IPAddress YourAddress { get; init; } = IPAddress.Any;

    public DhcpMessageType MessageType { get; init; }

    /// <summary>Option 51 in seconds; null when absent.</summary>
    public uint? LeaseSeconds { get; init; }

    /// <summary>Option 54; null when absent.</summary>
    public IPAddress? ServerIdentifier { get; init; }

    /// <summary>Option 50 (DECLINE names the refused address here); null when absent.</summary>
    public IPAddress? RequestedAddress { get; init; }

    /// <summary>Reads a UDP payload; false unless it holds the fixed header, the magic cookie and a message type.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out DhcpMessage message)
    {
        message = null!;
        if (payload.Length < FixedLength + 4 || BinaryPrimitives.ReadUInt32BigEndian(payload[FixedLength..]) != MagicCookie)
        {
            return false;
        }
        var operation = payload[0];
        if (operation is not (BootRequest or BootReply) || payload[1] != 1 || payload[2] != 6)
        {
            return false; // only Ethernet hardware addresses
        }

        var options = new Options();
        var overload = Walk(payload[(FixedLength + 4)..], ref options);
        if ((overload & 1) != 0)
        {
            Walk(payload.Slice(FileOffset, FileLength), ref options);
        }
        if ((overload & 2) != 0)
        {
            Walk(payload.Slice(SnameOffset, SnameLength), ref options);
        }
        if (options.MessageType == DhcpMessageType.None)
        {
            return false; // BOOTP without DHCP: nothing a lease can be built on
        }

        message = new DhcpMessage
        {
            Operation = operation,
            ClientMac = FrameDecoder.ReadMac(payload.Slice(28, 6)),
            ClientAddress = new IPAddress(payload.Slice(12, 4)),
            YourAddress = new IPAddress(payload.Slice(16, 4)),
            MessageType = options.MessageType,
            LeaseSeconds = options.LeaseSeconds,
            ServerIdentifier = options.ServerIdentifier,
            RequestedAddress = options.RequestedAddress,
        };
        return true;
    }

    private struct Options
    {
        public DhcpMessageType MessageType;
        public uint? LeaseSeconds;
        public IPAddress? ServerIdentifier;
        public IPAddress? RequestedAddress;
    }

    /// <summary>Walks one option area; returns the overload flags (option 52) seen in it.</summary>
    private static int Walk(ReadOnlySpan<byte> area, ref Options options)
    {
        var overload = 0;
        var i = 0;
        while (i < area.Length)
        {
            var code = area[i++];
            if (code == 0)
            {
                continue; // pad
            }
            if (code == 255 || i >= area.Length)
            {
                break; // end, or a code without a length
            }
            int length = area[i++];
            if (i + length > area.Length)
            {
                break; // truncated: keep what came before
            }
            var data = area.Slice(i, length);
            i += length;
            switch (code)
            {
                case 50 when length == 4:
                    options.RequestedAddress = new IPAddress(data);
                    break;
                case 51 when length == 4:
                    options.LeaseSeconds = BinaryPrimitives.ReadUInt32BigEndian(data);
                    break;
                case 52 when length == 1:
                    overload = data[0] & 3;
                    break;
                case 53 when length == 1 && data[0] is >= 1 and <= 8:
                    options.MessageType = (DhcpMessageType)data[0];
                    break;
                case 54 when length == 4:
                    options.ServerIdentifier = new IPAddress(data);
                    break;
            }
        }
        return overload;
    }
}
