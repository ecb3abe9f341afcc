namespace NwFilter.Core.Resolution;

/// <summary>The variable names libvirt gives a meaning to.</summary>
internal static class ReservedVariables
{
    /// <summary>The VM's MAC address; defaults to the binding's MAC.</summary>
    public const string Mac = "MAC";

    /// <summary>The VM's IPv4 address(es); learned when absent (see <see cref="IpLearning"/>).</summary>
    public const string IP = "IP";

    /// <summary>The VM's IPv6 address(es).</summary>
    public const string IPv6 = "IPV6";

    /// <summary>The DHCP server(s) the VM may hear from.</summary>
    public const string DhcpServer = "DHCPSERVER";

    /// <summary>How a missing <see cref="IP"/> is learned: <c>any</c> (the default), <c>dhcp</c> or <c>none</c>.</summary>
    public const string IpLearning = "CTRL_IP_LEARNING";

    /// <summary>How a missing <see cref="IPv6"/> is learned: <c>any</c> (the default), <c>dhcp</c> or <c>none</c> (NwFilter's; libvirt
    /// learns no IPv6).</summary>
    public const string IPv6Learning = "CTRL_IPV6_LEARNING";

    /// <summary>The DHCPv6 server(s) whose replies teach the VM's IPv6 addresses (NwFilter's; see <see cref="IPv6Learning"/>).</summary>
    public const string Dhcpv6Server = "DHCPV6SERVER";

    /// <summary><c>true</c>: the VM is an IPv6 router, the RA guard (<see cref="RouterGuardFilter"/>) is not instantiated
    /// for it (NwFilter's). <c>false</c> (the default) keeps the guard.</summary>
    public const string IPv6Router = "IPV6_ROUTER";

    /// <summary>The filter whose rules <see cref="IPv6Router"/>='true' leaves out.</summary>
    public const string RouterGuardFilter = "nwfilter-no-ipv6-router-advertisement";
}

/// <summary>How a missing <c>IP</c> variable is learned (<c>CTRL_IP_LEARNING</c>).</summary>
public enum IpLearningMode
{
    /// <summary>Learn from the first ARP/DHCP/IPv4 traffic (libvirt's default).</summary>
    Any,
    /// <summary>Learn from DHCP leases only (snooping).</summary>
    Dhcp,
    /// <summary>Do not learn: a missing IP is an error.</summary>
    None,
}
