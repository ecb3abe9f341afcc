using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using static NwFilter.Core.Backends.EbIpTables.Commands;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// The rules a port carries while its address is being learned (the tech driver's applyBasicRules,
/// applyDHCPOnlyRules and applyDropAllRules in libvirt's nwfilter_tech_driver.h; docs/design/learning.md, "Learning-phase rules"), as plans
/// in the backend's types for the executor to apply. Each plan is: the port's complete teardown (errors ignored), then
/// one transaction building the rules straight under their final names; when that fails, its rollback removes every
/// ebtables chain of the port (libvirt's <c>ebtablesCleanAll</c>).
/// </summary>
internal static class LearningRules
{
    private const string BroadcastMac = "ff:ff:ff:ff:ff:ff";

    /// <summary>The plan for a learner's mode: <see cref="BasicRules"/> for <c>any</c>, <see cref="DhcpOnlyRules"/> for <c>dhcp</c>.</summary>
    public static FirewallPlan For(string portDevice, PhysicalAddress mac, IpLearningMode mode, IEnumerable<IPAddress>? dhcpServers = null) => mode switch
    {
        IpLearningMode.Any => BasicRules(portDevice, mac),
        IpLearningMode.Dhcp => DhcpOnlyRules(portDevice, mac, dhcpServers ?? []),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Only 'any' and 'dhcp' learn addresses."),
    };

    /// <summary>
    /// While learning in <c>any</c> mode (libvirt's applyBasicRules): from the VM, frames with another source MAC are
    /// dropped, IPv4 and ARP pass, everything else is dropped; nothing is filtered towards the VM.
    /// </summary>
    public static FirewallPlan BasicRules(string portDevice, PhysicalAddress mac) =>
        Plan("ApplyBasicRules", portDevice, [.. BasicBody(portDevice, mac), Rename(true, portDevice)]);

    private static List<FirewallCommand> BasicBody(string portDevice, PhysicalAddress mac)
    {
        ChainNames.ValidatePortDevice(portDevice);
        ArgumentNullException.ThrowIfNull(mac);
        var ifname = portDevice;
        var chain = ChainNames.EbRoot(ChainNames.InTemp, ifname);
        return
        [
            EbCreateRoot(ChainNames.InTemp, ifname),
            Eb(false, "-A", chain, "-s", "!", MacAddressText.Format(mac), "-j", "DROP"),
            Eb(false, "-A", chain, "-p", "IPv4", "-j", "ACCEPT"),
            Eb(false, "-A", chain, "-p", "ARP", "-j", "ACCEPT"),
            Eb(false, "-A", chain, "-j", "DROP"),
            EbLinkRoot(true, ChainNames.InTemp, ifname),
        ];
    }

    /// <summary>
    /// While snooping DHCP (libvirt's applyDHCPOnlyRules): from the VM only DHCP requests (its MAC, UDP 68 to 67); to
    /// the VM only DHCP replies (UDP 67 to 68, to its MAC or broadcast), and when <paramref name="dhcpServers"/> is not
    /// empty only from those servers. <paramref name="leaveTemporary"/> keeps the chains under their temporary names.
    /// </summary>
    public static FirewallPlan DhcpOnlyRules(string portDevice, PhysicalAddress mac, IEnumerable<IPAddress> dhcpServers, bool leaveTemporary = false)
    {
        var commands = DhcpOnlyBody(portDevice, mac, dhcpServers);
        if (!leaveTemporary)
        {
            commands.Add(Rename(true, portDevice));
            commands.Add(Rename(false, portDevice));
        }
        return Plan("ApplyDhcpOnlyRules", portDevice, commands);
    }

    private static List<FirewallCommand> DhcpOnlyBody(string portDevice, PhysicalAddress mac, IEnumerable<IPAddress> dhcpServers)
    {
        ChainNames.ValidatePortDevice(portDevice);
        ArgumentNullException.ThrowIfNull(mac);
        ArgumentNullException.ThrowIfNull(dhcpServers);
        var ifname = portDevice;
        var macText = MacAddressText.Format(mac);
        var inChain = ChainNames.EbRoot(ChainNames.InTemp, ifname);
        var outChain = ChainNames.EbRoot(ChainNames.OutTemp, ifname);
        var commands = new List<FirewallCommand>
        {
            EbCreateRoot(ChainNames.InTemp, ifname),
            EbCreateRoot(ChainNames.OutTemp, ifname),
            Eb(false, "-A", inChain, "-s", macText, "-p", "ipv4", "--ip-protocol", "udp", "--ip-sport", "68", "--ip-dport", "67", "-j", "ACCEPT"),
            Eb(false, "-A", inChain, "-j", "DROP"),
        };
        var servers = dhcpServers.Select(ServerText).ToList();
        foreach (var server in servers.Count == 0 ? [null] : servers.Cast<string?>())
        {
            foreach (var destination in new[] { macText, BroadcastMac })
            {
                string[] source = server is null ? [] : ["--ip-src", server];
                commands.Add(Eb(false, ["-A", outChain, "-d", destination, "-p", "ipv4", "--ip-protocol", "udp", .. source,
                    "--ip-sport", "67", "--ip-dport", "68", "-j", "ACCEPT"]));
            }
        }
        commands.Add(Eb(false, "-A", outChain, "-j", "DROP"));
        commands.Add(EbLinkRoot(true, ChainNames.InTemp, ifname));
        commands.Add(EbLinkRoot(false, ChainNames.OutTemp, ifname));
        return commands;
    }

    /// <summary>
    /// The learning rules of <paramref name="mode"/> shaped like the backend's <c>ApplyNewRules</c> plan, for an
    /// executor that builds every binding under temporary names and then swaps (<c>TearOldRules</c>): leftover
    /// temporary chains are cleared (errors ignored), then the rules are built in <c>libvirt-J-IF</c> (and
    /// <c>libvirt-P-IF</c>) and linked, with no teardown of the current rules and no renames. After the swap the port
    /// holds exactly what libvirt's helper leaves.
    /// </summary>
    public static FirewallPlan AsNewRules(string portDevice, PhysicalAddress mac, IpLearningMode mode, IEnumerable<IPAddress>? dhcpServers = null)
    {
        var body = mode switch
        {
            IpLearningMode.Any => BasicBody(portDevice, mac),
            IpLearningMode.Dhcp => DhcpOnlyBody(portDevice, mac, dhcpServers ?? []),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Only 'any' and 'dhcp' learn addresses."),
        };
        var cleanup = new FirewallTransaction([.. EbTearDown(ChainNames.InTemp, ChainNames.OutTemp, portDevice)]) { IgnoreErrors = true };
        var build = new FirewallTransaction([.. body]) { Rollback = [.. EbTearDown(ChainNames.InTemp, ChainNames.OutTemp, portDevice)] };
        return new FirewallPlan(EbIpTablesBackend.Instance.Name, nameof(IFirewallBackend.ApplyNewRules), portDevice, [cleanup, build]);
    }

    /// <summary>Everything to and from the VM is dropped (libvirt's applyDropAllRules, used when learning fails).</summary>
    public static FirewallPlan DropAllRules(string portDevice)
    {
        ChainNames.ValidatePortDevice(portDevice);
        var ifname = portDevice;
        return Plan("ApplyDropAllRules", ifname,
        [
            EbCreateRoot(ChainNames.InTemp, ifname),
            EbCreateRoot(ChainNames.OutTemp, ifname),
            Eb(false, "-A", ChainNames.EbRoot(ChainNames.InTemp, ifname), "-j", "DROP"),
            Eb(false, "-A", ChainNames.EbRoot(ChainNames.OutTemp, ifname), "-j", "DROP"),
            EbLinkRoot(true, ChainNames.InTemp, ifname),
            EbLinkRoot(false, ChainNames.OutTemp, ifname),
            Rename(true, ifname),
            Rename(false, ifname),
        ]);
    }

    /// <summary>Every ebtables chain of the port, final and temporary, unlinked and removed (errors ignored).</summary>
    public static ImmutableArray<FirewallCommand> CleanAllCommands(string portDevice)
    {
        ChainNames.ValidatePortDevice(portDevice);
        return
        [
            .. EbTearDown(ChainNames.In, ChainNames.Out, portDevice),
            .. EbTearDown(ChainNames.InTemp, ChainNames.OutTemp, portDevice),
        ];
    }

    private static FirewallCommand Rename(bool incoming, string ifname) =>
        incoming
            ? Eb(false, "-E", ChainNames.EbRoot(ChainNames.InTemp, ifname), ChainNames.EbRoot(ChainNames.In, ifname))
            : Eb(false, "-E", ChainNames.EbRoot(ChainNames.OutTemp, ifname), ChainNames.EbRoot(ChainNames.Out, ifname));

    private static FirewallPlan Plan(string operation, string ifname, IEnumerable<FirewallCommand> commands)
    {
        var backend = EbIpTablesBackend.Instance;
        var teardown = backend.AllTeardown(ifname).Transactions;
        var build = new FirewallTransaction([.. commands]) { Rollback = CleanAllCommands(ifname) };
        return new FirewallPlan(backend.Name, operation, ifname, [.. teardown, build]);
    }

    private static string ServerText(IPAddress server)
    {
        if (server.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new NwFilterException(Diagnostic.Error("InvalidDhcpServer",
                $"DHCP server '{server}' is not an IPv4 address; {ReservedVariables.DhcpServer} holds IPv4 addresses.",
                DiagnosticCategory.InvalidArgument) with { Value = server.ToString() });
        }
        return server.ToString();
    }
}
