using System.Globalization;
using System.Net;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// A <see cref="NetnsLab"/> driven by the nftables applier: every nft runs inside the lab's host namespace (never in the
/// root namespace), and disposing the lab deletes the namespaces with their tables.
/// </summary>
public sealed class NftLab : IDisposable
{
    private NftLab(NetnsLab lab)
    {
        Lab = lab;
        Applier = new NftablesApplier(ProcessRunner.Default, lab.HostNamespace);
    }

    public NetnsLab Lab { get; }

    public NftablesApplier Applier { get; }

    public IReadOnlyList<LabVm> Vms => Lab.Vms;

    /// <summary>Builds the lab (skips the test when it cannot run here).</summary>
    public static NftLab Create(int vms)
    {
        var lab = NetnsLab.Create(vms);
        try
        {
            return new NftLab(lab);
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Compiles a filter for a VM (its MAC; IP = its IPv4 address unless given) and applies it.</summary>
    public NftApplyReport Apply(LabVm vm, string filter, params string[] ips) => Apply(Ruleset(vm, filter, ips));

    public NftApplyReport Apply(params NftPortRuleset[] rulesets) =>
        Applier.ApplyAsync([.. rulesets.Select(NftPortChange.Set)]).GetAwaiter().GetResult();

    public static NftPortRuleset Ruleset(LabVm vm, string filter, params string[] ips) =>
        NftTestFilters.Compile(filter, vm.PortDevice, vm.Mac, ips.Length == 0 ? [vm.IPv4] : ips);

    public NftApplyReport Remove(params LabVm[] vms) => Applier.RemoveAsync(vms.Select(v => v.PortDevice)).GetAwaiter().GetResult();

    public NftState State() => Applier.ReadStateAsync().GetAwaiter().GetResult();

    /// <summary>The whole ruleset of the lab's host namespace, as nft lists it.</summary>
    public string Ruleset() => Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput;

    public void Dispose() => Lab.Dispose();
}

/// <summary>Hand-made Ethernet frames sent from a VM's interface through a raw packet socket (perl), and whether they arrive.</summary>
public static class NftLabFrames
{
    // AF_PACKET (17) / SOCK_RAW (3), bound by sockaddr_ll to the interface; sends the frame COUNT times.
    private const string Sender =
        "my ($if, $hex, $count) = @ARGV; my $frame = pack('H*', $hex); socket(my $s, 17, 3, 0) or die \"socket: $!\"; "
        + "open(my $f, '<', \"/sys/class/net/$if/ifindex\") or die \"ifindex: $!\"; my $idx = <$f>; chomp $idx; "
        + "my $addr = pack('S n i S C C a8', 17, 0, $idx, 0, 0, 6, substr($frame, 0, 6)); "
        + "for (1 .. $count) { send($s, $frame, 0, $addr) or die \"send: $!\"; select(undef, undef, undef, 0.05); }";

    public const string Broadcast = "ff:ff:ff:ff:ff:ff";

    /// <summary>Sends the frame from <paramref name="sender"/> and reports whether <paramref name="observer"/> captured a frame matching the pcap filter.</summary>
    public static bool FrameArrives(this NetnsLab lab, LabVm sender, LabVm observer, string frameHex, string pcapFilter)
    {
        using var capture = lab.StartCapture(observer, pcapFilter);
        lab.Run(sender.Namespace, new ProcessRequest("perl", "-e", Sender, sender.Interface, frameHex, "3") { Timeout = TimeSpan.FromSeconds(10) })
            .EnsureSuccess();
        return capture.WaitForExit(TimeSpan.FromSeconds(1)) && capture.Output.Length > 0;
    }

    /// <summary>An Ethernet frame, padded to the 60-byte minimum.</summary>
    public static string Ethernet(string destination, string source, ushort etherType, string payloadHex) =>
        (Mac(destination) + Mac(source) + etherType.ToString("x4", CultureInfo.InvariantCulture) + payloadHex).PadRight(120, '0');

    /// <summary>An ARP request for IPv4 over Ethernet.</summary>
    public static string Arp(string ethSource, string senderMac, string senderIp, string targetIp) =>
        Ethernet(Broadcast, ethSource, 0x0806, "0001080006040001" + Mac(senderMac) + Ip(senderIp) + "000000000000" + Ip(targetIp));

    public static string Ip(string address) => Convert.ToHexString(IPAddress.Parse(address).GetAddressBytes()).ToLowerInvariant();

    public static string Mac(string mac) => mac.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
}
