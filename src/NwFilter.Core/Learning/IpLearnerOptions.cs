using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Learning;

/// <summary>What one learner watches and how.</summary>
/// <param name="PortDevice">The binding's port device (names the learner, its events and its lease file).</param>
/// <param name="MacAddress">The VM's MAC.</param>
/// <param name="Mode"><c>any</c> or <c>dhcp</c>.</param>
public sealed record IpLearnerOptions(string PortDevice, PhysicalAddress MacAddress, IpLearningMode Mode)
{
    /// <summary>The binding's port device (names the learner, its events and its lease file).</summary>
    public string PortDevice { get; init; } = PortDevice;
    /// <summary>The VM's MAC.</summary>
    public PhysicalAddress MacAddress { get; init; } = MacAddress;
    /// <summary><c>any</c> or <c>dhcp</c>.</summary>
    public IpLearningMode Mode { get; init; } = Mode is IpLearningMode.Any or IpLearningMode.Dhcp
        ? Mode
        : throw new ArgumentOutOfRangeException(nameof(Mode), Mode, "Only 'any' and 'dhcp' learn addresses.");

    /// <summary>The macvtap link device; when set the capture listens there, as libvirt does.</summary>
    public string? LinkDevice { get; init; }

    /// <summary>The network namespace holding the device; null for the process's own.</summary>
    public string? NamespaceName { get; init; }

    /// <summary>DHCPSERVER: the only servers whose replies are believed (empty: any server).</summary>
    public ImmutableArray<IPAddress> DhcpServers { get; init; } = [];

    /// <summary>Also learn IPv6 addresses (duplicate address detection, neighbour advertisements and packets from the VM
    /// in <c>any</c> mode, DHCPv6 replies in <c>dhcp</c> and <c>any</c> mode). Off by default, as libvirt learns none; a
    /// binding whose filter needs <c>IPV6</c> and gives none turns it on (<c>CTRL_IPV6_LEARNING</c>).</summary>
    public bool LearnIPv6 { get; init; }

    /// <summary>Learn IPv4 addresses (on by default; off for a binding that gives <c>IP</c> and learns only <c>IPV6</c>).</summary>
    public bool LearnIPv4 { get; init; } = true;

    /// <summary>DHCPV6SERVER: the only DHCPv6 servers whose replies are believed (empty: any server).</summary>
    public ImmutableArray<IPAddress> Dhcpv6Servers { get; init; } = [];

    /// <summary>The trusted servers of both families, as the decisions check them (per family).</summary>
    internal IReadOnlyCollection<IPAddress> AllServers => [.. DhcpServers, .. Dhcpv6Servers];

    /// <summary>The most leases held at once in <c>dhcp</c> mode.</summary>
    public int MaxLeases { get; init; } = 16;

    /// <summary>DHCP messages handled per second and direction, on average (libvirt: 10).</summary>
    public double DhcpRatePerSecond { get; init; } = 10;

    /// <summary>DHCP messages handled in a burst per direction (libvirt: 50).</summary>
    public int DhcpBurst { get; init; } = 50;

    /// <summary>The capture's read timeout (how soon a stop is noticed).</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The device the capture listens on: the link device when set, else the port device.</summary>
    public string CaptureDevice => LinkDevice ?? PortDevice;

    /// <summary>The capture for these options.</summary>
    public CaptureRequest ToCaptureRequest() =>
        new(CaptureDevice, CaptureRequest.FilterFor(Mode, MacAddress, LearnIPv6)) { NamespaceName = NamespaceName, ReadTimeout = ReadTimeout };

    /// <summary>
    /// The options for a binding whose resolution is waiting for its IP (<see cref="ResolutionStatus.NeedsIpLearning"/>):
    /// the mode from <c>CTRL_IP_LEARNING</c>, the servers from <c>DHCPSERVER</c>. Throws
    /// <see cref="NwFilterException"/> when a DHCPSERVER value is not an IPv4 address.
    /// </summary>
    public static IpLearnerOptions ForBinding(FilterBinding binding, Resolution.Resolution resolution, string? namespaceName = null)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentNullException.ThrowIfNull(resolution);
        if (resolution.Status != ResolutionStatus.NeedsIpLearning)
        {
            throw new ArgumentException("The binding's resolution does not wait for IP learning.", nameof(resolution));
        }
        var servers = resolution.Variables.TryGetValue(ReservedVariables.DhcpServer, out var values) ? values : [];
        var servers6 = resolution.Variables.TryGetValue(ReservedVariables.Dhcpv6Server, out var values6) ? values6 : [];
        return new IpLearnerOptions(binding.PortDevice, binding.MacAddress, resolution.IpLearning)
        {
            LinkDevice = binding.LinkDevice,
            NamespaceName = namespaceName,
            DhcpServers = ParseServers(servers, binding.PortDevice),
            Dhcpv6Servers = resolution.LearnIPv6 ? ParseServers6(servers6, binding.PortDevice) : [],
            LearnIPv4 = resolution.LearnIPv4,
            LearnIPv6 = resolution.LearnIPv6,
        };
    }

    /// <summary>DHCPV6SERVER values as IPv6 unicast addresses (link-local allowed: a server on the link answers from
    /// one); every bad one is reported at once.</summary>
    public static ImmutableArray<IPAddress> ParseServers6(IEnumerable<string> values, string? portDevice = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        var result = ImmutableArray.CreateBuilder<IPAddress>();
        var problems = new List<Diagnostic>();
        foreach (var value in values)
        {
            if (IPAddress.TryParse(value, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId == 0 &&
                !address.IsIPv6Multicast && !address.Equals(IPAddress.IPv6None) && !address.IsIPv4MappedToIPv6)
            {
                result.Add(address);
            }
            else
            {
                problems.Add(Diagnostic.Error("InvalidDhcpServer",
                    $"{ReservedVariables.Dhcpv6Server} value '{value}' is not an IPv6 unicast address.", DiagnosticCategory.InvalidArgument)
                    with { Value = value, Filter = portDevice });
            }
        }
        return problems.Count > 0 ? throw new NwFilterException(problems) : result.ToImmutable();
    }

    /// <summary>The link-local address a VM derives from its MAC (fe80::/64 with the modified EUI-64, RFC 4291
    /// appendix A), known without learning.</summary>
    public static IPAddress LinkLocalOf(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        var m = mac.GetAddressBytes();
        if (m.Length != 6)
        {
            throw new ArgumentException("A MAC address has 6 bytes.", nameof(mac));
        }
        return new IPAddress(new byte[] { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, (byte)(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5] });
    }

    /// <summary>DHCPSERVER values as IPv4 addresses; every bad one is reported at once.</summary>
    public static ImmutableArray<IPAddress> ParseServers(IEnumerable<string> values, string? portDevice = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        var result = ImmutableArray.CreateBuilder<IPAddress>();
        var problems = new List<Diagnostic>();
        foreach (var value in values)
        {
            if (IPAddress.TryParse(value, out var address) && address.AddressFamily == AddressFamily.InterNetwork &&
                value.Count(c => c == '.') == 3)
            {
                result.Add(address);
            }
            else
            {
                problems.Add(Diagnostic.Error("InvalidDhcpServer",
                    $"{ReservedVariables.DhcpServer} value '{value}' is not an IPv4 address.", DiagnosticCategory.InvalidArgument)
                    with { Value = value, Filter = portDevice });
            }
        }
        return problems.Count > 0 ? throw new NwFilterException(problems) : result.ToImmutable();
    }
}
