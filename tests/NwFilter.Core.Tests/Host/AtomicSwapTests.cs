using System.Text.RegularExpressions;
using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Host;

/// <summary>
/// The swap design of docs/design/applying.md, checked on the kernel: new chains are built beside the old ones by the
/// restore tools, then ONE <c>nft -f</c> transaction swaps ebtables and iptables links, deletes the old chains and
/// renames the new ones to the final names, for every family at once, or changes nothing when any step fails.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed partial class AtomicSwapTests
{
    [SkippableFact]
    public void OneNftTransactionSwapsEbtablesAndIptablesTogetherOrNotAtAll()
    {
        using var lab = NetnsLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);

        // Old generation: vnet0 may only send with its own MAC; TCP 7101 to vnet1 is dropped.
        lab.Restore("ebtables-restore", $"*nat\n-N libvirt-I-vnet0\n-A libvirt-I-vnet0 -s ! {vm0.Mac} -j DROP\n-A PREROUTING -i vnet0 -j libvirt-I-vnet0\nCOMMIT\n").EnsureSuccess();
        lab.Restore("iptables-restore", "*filter\n-N libvirt-out\n-I FORWARD 1 -j libvirt-out\n-N FO-vnet1\n-A FO-vnet1 -p tcp --dport 7101 -j DROP\n"
            + "-A libvirt-out -m physdev --physdev-is-bridged --physdev-out vnet1 -g FO-vnet1\nCOMMIT\n").EnsureSuccess();

        // New generation, built beside it: ebtables unlinked; the iptables link shadowed behind the old one (a goto
        // never falls through to the next rule of libvirt-out, so it is inert until the old link goes).
        lab.Restore("ebtables-restore", "*nat\n-N libvirt-J-vnet0\n-A libvirt-J-vnet0 -j DROP\nCOMMIT\n").EnsureSuccess();
        lab.Restore("iptables-restore", "*filter\n-N FP-vnet1\n-A FP-vnet1 -p tcp --dport 7102 -j DROP\n"
            + "-A libvirt-out -m physdev --physdev-is-bridged --physdev-out vnet1 -g FP-vnet1\nCOMMIT\n").EnsureSuccess();
        Assert.True(lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 7102), "the shadowed new chain is inert");
        Assert.False(lab.TcpConnect(vm0.Namespace, vm1.Namespace, vm1.IPv4, 7101, TimeSpan.FromSeconds(1)));

        var ebLink = Handle(lab, "bridge nat PREROUTING", "jump libvirt-I-vnet0");
        var ipLink = Handle(lab, "ip filter libvirt-out", "goto FO-vnet1");
        var swap = $"""
            add rule bridge nat PREROUTING iifname "vnet0" counter jump libvirt-J-vnet0
            delete rule bridge nat PREROUTING handle {ebLink}
            flush chain bridge nat libvirt-I-vnet0
            delete chain bridge nat libvirt-I-vnet0
            rename chain bridge nat libvirt-J-vnet0 libvirt-I-vnet0
            delete rule ip filter libvirt-out handle {ipLink}
            flush chain ip filter FO-vnet1
            delete chain ip filter FO-vnet1
            rename chain ip filter FP-vnet1 FO-vnet1

            """;

        // A swap whose last step fails changes nothing in either family.
        var before = lab.RunInHostChecked("ebtables-save").StandardOutput + lab.RunInHostChecked("iptables-save").StandardOutput;
        Assert.False(lab.Run(lab.HostNamespace, new ProcessRequest("nft", "-f", "-") { StandardInput = swap.Replace("FP-vnet1 FO", "FX-vnet1 FO", StringComparison.Ordinal) }).Succeeded);
        var unchanged = lab.RunInHostChecked("ebtables-save").StandardOutput + lab.RunInHostChecked("iptables-save").StandardOutput;
        Assert.Equal(LibvirtCapture.WithoutComments(before), LibvirtCapture.WithoutComments(unchanged));

        lab.Run(lab.HostNamespace, new ProcessRequest("nft", "-f", "-") { StandardInput = swap }).EnsureSuccess();

        var eb = LibvirtCapture.WithoutComments(lab.RunInHostChecked("ebtables-save").StandardOutput);
        Assert.Equal("*nat\n:PREROUTING ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\n:libvirt-I-vnet0 ACCEPT\n"
            + "-A PREROUTING -i vnet0 -j libvirt-I-vnet0\n-A libvirt-I-vnet0 -j DROP\n", eb);
        var ip = lab.RunInHostChecked("iptables-save").StandardOutput;
        Assert.Contains("-A libvirt-out -m physdev --physdev-out vnet1 --physdev-is-bridged -g FO-vnet1\n", ip, StringComparison.Ordinal);
        Assert.Contains("-A FO-vnet1 -p tcp -m tcp --dport 7102 -j DROP\n", ip, StringComparison.Ordinal);
        Assert.DoesNotContain("FP-vnet1", ip, StringComparison.Ordinal);
        Assert.False(lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(1)), "the new ebtables chain drops everything from vnet0");
    }

    private static string Handle(NetnsLab lab, string chain, string target)
    {
        var listing = lab.RunInHostChecked("nft", ["-a", "list", "chain", .. chain.Split(' ')]).StandardOutput;
        var line = listing.Split('\n').Single(l => l.Contains(target, StringComparison.Ordinal));
        return HandlePattern().Match(line).Groups[1].Value;
    }

    [GeneratedRegex(@"# handle (\d+)")]
    private static partial Regex HandlePattern();
}
