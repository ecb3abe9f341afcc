using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// The rules a port carries on nftables while its address is learned: libvirt's applyBasicRules, applyDHCPOnlyRules
/// and applyDropAllRules (the ebtables form is <see cref="LearningRules"/>) as a port ruleset of the bridge table, so
/// they are applied, swapped and removed like any compiled binding (one transaction, the map elements repointed).
/// Every rule tests what its ebtables twin tests and ends with the same verdict; nothing goes to the inet table
/// (libvirt's learning rules are ebtables rules only). docs/design/nftables.md, "IP learning".
/// </summary>
internal static class NftLearningRules
{
    private const string BroadcastMac = "ff:ff:ff:ff:ff:ff";

    /// <summary>The ruleset of a learner's mode: <see cref="Basic"/> for <c>any</c>, <see cref="DhcpOnly"/> for <c>dhcp</c>.</summary>
    public static NftPortRuleset For(string portDevice, PhysicalAddress mac, IpLearningMode mode, IEnumerable<IPAddress>? dhcpServers = null) => mode switch
    {
        IpLearningMode.Any => Basic(portDevice, mac),
        IpLearningMode.Dhcp => DhcpOnly(portDevice, mac, dhcpServers ?? []),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Only 'any' and 'dhcp' learn addresses."),
    };

    /// <summary>
    /// While learning in <c>any</c> mode (applyBasicRules): from the VM, frames with another source MAC are dropped,
    /// IPv4 and ARP pass, everything else is dropped; nothing is filtered towards the VM.
    /// </summary>
    public static NftPortRuleset Basic(string portDevice, PhysicalAddress mac)
    {
        ChainNames.ValidatePortDevice(portDevice);
        ArgumentNullException.ThrowIfNull(mac);
        var macText = MacAddressText.Format(mac);
        return new NftPortRuleset(portDevice,
        [
            new NftChain(NftFamily.Bridge, NftPortRuleset.FromVm,
            [
                new NftRule($"ether saddr != {macText}", NftVerdict.Drop, Comment("any")),
                new NftRule("ether type ip", NftVerdict.Accept, Comment("any")),
                new NftRule("ether type arp", NftVerdict.Accept, Comment("any")),
                new NftRule("", NftVerdict.Drop, Comment("any")),
            ]),
        ]);
    }

    /// <summary>
    /// While snooping DHCP (applyDHCPOnlyRules): from the VM only DHCP requests (its MAC, UDP 68 to 67); to the VM
    /// only DHCP replies (UDP 67 to 68, to its MAC or broadcast), and when <paramref name="dhcpServers"/> is not empty
    /// only from those servers' IPv4 addresses.
    /// </summary>
    public static NftPortRuleset DhcpOnly(string portDevice, PhysicalAddress mac, IEnumerable<IPAddress> dhcpServers)
    {
        ChainNames.ValidatePortDevice(portDevice);
        ArgumentNullException.ThrowIfNull(mac);
        ArgumentNullException.ThrowIfNull(dhcpServers);
        var macText = MacAddressText.Format(mac);
        var toVm = new List<NftRule>();
        var servers = dhcpServers.Select(ServerText).ToList();
        foreach (var server in servers.Count == 0 ? [null] : servers.Cast<string?>())
        {
            foreach (var destination in new[] { macText, BroadcastMac })
            {
                var source = server is null ? "" : $" ip saddr {server}";
                toVm.Add(new NftRule($"ether daddr {destination} ether type ip{source} ip protocol udp th sport 67 th dport 68", NftVerdict.Accept, Comment("dhcp")));
            }
        }
        toVm.Add(new NftRule("", NftVerdict.Drop, Comment("dhcp")));
        return new NftPortRuleset(portDevice,
        [
            new NftChain(NftFamily.Bridge, NftPortRuleset.FromVm,
            [
                new NftRule($"ether saddr {macText} ether type ip ip protocol udp th sport 68 th dport 67", NftVerdict.Accept, Comment("dhcp")),
                new NftRule("", NftVerdict.Drop, Comment("dhcp")),
            ]),
            new NftChain(NftFamily.Bridge, NftPortRuleset.ToVm, [.. toVm]),
        ]);
    }

    /// <summary>Everything to and from the VM dropped (applyDropAllRules).</summary>
    public static NftPortRuleset DropAll(string portDevice)
    {
        ChainNames.ValidatePortDevice(portDevice);
        return new NftPortRuleset(portDevice,
        [
            new NftChain(NftFamily.Bridge, NftPortRuleset.FromVm, [new NftRule("", NftVerdict.Drop, Comment("drop-all"))]),
            new NftChain(NftFamily.Bridge, NftPortRuleset.ToVm, [new NftRule("", NftVerdict.Drop, Comment("drop-all"))]),
        ]);
    }

    /// <summary>The comment every learning rule carries (no provenance: it comes from no rule instance).</summary>
    private static string Comment(string mode) => $"nwfilter learning ({mode})";

    private static string ServerText(IPAddress server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (server.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new NwFilterException(Diagnostic.Error("InvalidDhcpServer",
                $"DHCP server '{server}' is not an IPv4 address; {ReservedVariables.DhcpServer} holds IPv4 addresses.",
                DiagnosticCategory.InvalidArgument) with { Value = server.ToString() });
        }
        return server.ToString();
    }
}
