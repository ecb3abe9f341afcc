namespace NwFilter.Core.Model;

/// <summary>The firewall backends.</summary>
public enum FirewallBackendKind
{
    /// <summary>ebtables + iptables + ip6tables, as libvirt's ebiptables driver.</summary>
    EbIpTables,

    /// <summary>Native nftables: tables <c>bridge nwfilter</c> and <c>inet nwfilter</c>, one transaction per change.</summary>
    Nftables,
}
