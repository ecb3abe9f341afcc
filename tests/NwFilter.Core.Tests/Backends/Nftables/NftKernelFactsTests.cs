using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// The kernel and nft facts the nftables design stands on (docs/design/nftables.md, "What this kernel does"), each
/// re-checked in a lab namespace with hand-written nft: if one changes, the design must be revisited.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class NftKernelFactsTests
{
    private static ProcessResult Nft(NetnsLab lab, string script) =>
        lab.Run(lab.HostNamespace, new ProcessRequest("nft", "-f", "-") { StandardInput = script });

    private static long Packets(NetnsLab lab, string family, string chain, string comment)
    {
        var listing = lab.RunInHostChecked("nft", "list", "chain", family, "probe", chain).StandardOutput;
        var line = listing.Split('\n').Single(l => l.Contains($"comment \"{comment}\"", StringComparison.Ordinal));
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(words[Array.IndexOf(words, "packets") + 1], System.Globalization.CultureInfo.InvariantCulture);
    }

    [SkippableFact]
    public void UnderBrNetfilterTheInetHooksSeeTheBridgeNotThePortButTheyDoSeeMarksSetInTheBridgeFamily()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        Nft(lab, """
            table bridge probe {
                chain pre { type filter hook prerouting priority -300; policy accept; iifname "vnet0" meta mark set meta mark and 0xffff0000 or 0x1; }
                chain fwd_ { type filter hook forward priority -200; policy accept; oifname "vnet1" meta mark set meta mark and 0x0000ffff or 0x20000; }
            }
            table inet probe {
                chain forward {
                    type filter hook forward priority 0; policy accept;
                    iifname "vnet0" counter comment "iif-port"
                    iifname "br0" ip saddr 10.213.0.10 meta l4proto icmp counter comment "iif-bridge"
                    oifname "br0" ip saddr 10.213.0.10 meta l4proto icmp counter comment "oif-bridge"
                    meta mark 0x00020001 meta l4proto icmp counter comment "both-marks"
                }
                chain input { type filter hook input priority 0; policy accept; meta mark and 0xffff == 0x1 ip saddr 10.213.0.10 meta l4proto icmp counter comment "host-mark"; }
            }
            """).EnsureSuccess();

        Assert.True(lab.Ping(vm0.Namespace, vm1.IPv4, count: 2));
        Assert.True(lab.Ping(vm0.Namespace, NetnsLab.BridgeIPv4, count: 2));

        Assert.Equal(0, Packets(lab, "inet", "forward", "iif-port"));
        Assert.Equal(2, Packets(lab, "inet", "forward", "iif-bridge"));
        Assert.Equal(2, Packets(lab, "inet", "forward", "oif-bridge"));
        Assert.Equal(2, Packets(lab, "inet", "forward", "both-marks"));
        Assert.Equal(2, Packets(lab, "inet", "input", "host-mark"));

        // Without bridge-nf-call-iptables the inet hooks never see bridged IPv4: the layer-4 rules would be inert.
        lab.RunInHostChecked("sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0");
        Assert.True(lab.Ping(vm0.Namespace, vm1.IPv4, count: 2));
        Assert.Equal(2, Packets(lab, "inet", "forward", "both-marks"));
    }

    [SkippableFact]
    public void ThisKernelHasNoBridgeRejectNorBridgeMetaAndNftTakesOnlyBareNames()
    {
        using var lab = NetnsLab.Create(1);
        Assert.False(Nft(lab, "add table bridge probe\nadd chain bridge probe c\nadd rule bridge probe c reject\n").Succeeded, "bridge reject");
        Assert.False(Nft(lab, "add table bridge probe\nadd chain bridge probe c { type filter hook prerouting priority -300; }\nadd rule bridge probe c meta ibrname \"br0\" accept\n").Succeeded,
            "bridge meta ibrname");
        Assert.Contains("syntax error", Nft(lab, "add table bridge probe\nadd chain bridge probe \"vnet0-I\"\n").StandardError, StringComparison.Ordinal);
        Assert.Contains("syntax error", Nft(lab, "add table bridge probe\nadd chain bridge probe fwd\n").StandardError, StringComparison.Ordinal);
        Assert.Contains("syntax error", Nft(lab, "add table bridge probe\nadd chain bridge probe c\nadd rule bridge probe c accept comment \"a \\\"b\\\"\"\n").StandardError,
            StringComparison.Ordinal);
        Assert.True(Nft(lab, "add table bridge probe\nadd chain bridge probe vnet0/1/1/I-arp-ip\n").Succeeded, "a name with slashes and dashes is one bare word");
        Assert.True(Nft(lab, "delete table bridge probe\n").Succeeded);
    }

    [SkippableFact]
    public void ElementsAndCreatedChainsRefuseWhatAStaleStateWouldDo()
    {
        using var lab = NetnsLab.Create(1);
        Nft(lab, """
            add table bridge probe
            add map bridge probe m { type ifname : verdict; }
            add chain bridge probe a
            add chain bridge probe b
            add element bridge probe m { "vnet0" : jump a }
            """).EnsureSuccess();
        Assert.True(Nft(lab, "add element bridge probe m { \"vnet0\" : jump a }\n").Succeeded, "re-adding the same value is a no-op");
        Assert.False(Nft(lab, "add element bridge probe m { \"vnet0\" : jump b }\n").Succeeded, "another value for a key is refused");
        Assert.False(Nft(lab, "delete element bridge probe m { \"vnet9\" }\n").Succeeded, "deleting a missing key is refused");
        Assert.False(Nft(lab, "create chain bridge probe a\n").Succeeded, "create refuses an existing chain");
        Assert.False(Nft(lab, "delete chain bridge probe a\n").Succeeded, "a chain a map element points to cannot go");
        Assert.True(Nft(lab, "delete element bridge probe m { \"vnet0\" }\nadd element bridge probe m { \"vnet0\" : jump b }\ndelete chain bridge probe a\n").Succeeded,
            "repoint, then delete, in one transaction");
    }
}
