using System.Net.NetworkInformation;
using System.Threading.Channels;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Learning;

/// <summary>What to capture: a device (in a network namespace, or the process's own) and a BPF filter.</summary>
/// <param name="Device">The interface to listen on (the port device, or the link device for macvtap).</param>
/// <param name="Filter">A pcap filter expression.</param>
public sealed record CaptureRequest(string Device, string Filter)
{
    /// <summary>The network namespace (a name under /run/netns) holding the device; null for the process's own.</summary>
    public string? NamespaceName { get; init; }

    /// <summary>
    /// Bytes kept per frame: a whole frame of a 1,500-byte MTU with two VLAN tags and room to spare, so a DHCP message
    /// keeps every option (its lease time and server can be anywhere in them); ARP and IP headers need far less.
    /// </summary>
    public int Snaplen { get; init; } = 1600;

    /// <summary>
    /// The kernel ring of the capture, in bytes (libpcap's buffer size; its default is 2 MiB per handle, which made a
    /// learning port cost ~2.6 MiB). 128 KiB hold about 64 full frames: learners see a handful of DHCP or ARP frames a
    /// second (the rate limit drops more), and the capture loop drains every ring as soon as it has data.
    /// </summary>
    public int BufferSize { get; init; } = 128 * 1024;

    /// <summary>The read timeout given to libpcap (libvirt: 500 ms); reads are non-blocking in the capture loop.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Frames held for the learner before new ones are dropped.</summary>
    public int QueueLength { get; init; } = 256;

    /// <summary>
    /// The filter for a learner (libvirt's, widened where we learn more): <c>any</c> takes every frame from or to the
    /// VM's MAC and broadcasts; <c>dhcp</c> only DHCP requests from the VM and DHCP replies (DHCPv6 as well when
    /// <paramref name="ipv6"/>).
    /// </summary>
    public static string FilterFor(IpLearningMode mode, PhysicalAddress mac, bool ipv6)
    {
        var m = MacAddressText.Format(mac);
        return mode switch
        {
            IpLearningMode.Any => $"ether host {m} or ether dst ff:ff:ff:ff:ff:ff",
            IpLearningMode.Dhcp => $"(udp and src port 68 and dst port 67 and ether src {m}) or (udp and src port 67 and dst port 68)"
                + (ipv6 ? $" or (ip6 and udp and src port 547 and dst port 546 and ether dst {m})" : ""),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Only 'any' and 'dhcp' learn addresses."),
        };
    }

    internal void Validate()
    {
        if (Device.Length is 0 or > 15 || Device.Contains('/') || Device.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"'{Device}' is not an interface name.", nameof(Device));
        }
        if (NamespaceName is not null && !NetworkNamespace.IsValidName(NamespaceName))
        {
            throw new ArgumentException($"'{NamespaceName}' is not a valid network namespace name.", nameof(NamespaceName));
        }
    }
}

/// <summary>One captured frame: when, and its bytes from the Ethernet header on.</summary>
public readonly record struct CapturedFrame(DateTimeOffset Time, byte[] Data);

/// <summary>Opens captures. The real one is <see cref="PcapFrameSource"/>; tests feed frames by hand.</summary>
public interface IFrameSource
{
    /// <summary>
    /// Opens a capture and returns once it listens (frames sent after that are seen). Throws
    /// <see cref="Diagnostics.NwFilterException"/> (ResourceUnavailable) when the device cannot be opened.
    /// </summary>
    Task<IFrameCapture> OpenAsync(CaptureRequest request, CancellationToken cancellationToken = default);
}

/// <summary>A running capture. Its reader completes when the capture ends: normally after Dispose, with the error when
/// capturing failed (the device went away).</summary>
public interface IFrameCapture : IDisposable
{
    /// <summary>The captured frames, in arrival order; the reader completes when the capture stops.</summary>
    ChannelReader<CapturedFrame> Frames { get; }

    /// <summary>Frames dropped because the learner did not keep up.</summary>
    long Dropped { get; }
}
