using NwFilter.Core.Backends;

namespace NwFilter.Core.Tests.Backends.EbIpTables;

/// <summary>
/// libvirt's xml2firewall harness removes "common rules" from the recorded output before comparing (SEMANTICS 1.3):
/// an ordered list of blocks; each is searched from where the previous one was cut, removed only when it matches
/// verbatim and contiguously, and the offset moves to the cut. This reproduces it (test code, not product).
/// </summary>
internal static class LibvirtCommonRules
{
    private const string If = "vnet0";

    private static string Eb(params string[] args) =>
        CommandPrinter.Recorded(new FirewallCommand("ebtables", ["--concurrent", "-t", "nat", .. args]));

    private static string Ipt(string program, params string[] args) =>
        CommandPrinter.Recorded(new FirewallCommand(program, ["-w", .. args]));

    private static string DropIptables(string p) => string.Concat(
        Ipt(p, "-D", "libvirt-out", "-m", "physdev", "--physdev-is-bridged", "--physdev-out", If, "-g", "FP-" + If),
        Ipt(p, "-D", "libvirt-out", "-m", "physdev", "--physdev-out", If, "-g", "FP-" + If),
        Ipt(p, "-D", "libvirt-in", "-m", "physdev", "--physdev-in", If, "-g", "FJ-" + If),
        Ipt(p, "-D", "libvirt-host-in", "-m", "physdev", "--physdev-in", If, "-g", "HJ-" + If),
        Ipt(p, "-F", "FP-" + If), Ipt(p, "-X", "FP-" + If),
        Ipt(p, "-F", "FJ-" + If), Ipt(p, "-X", "FJ-" + If),
        Ipt(p, "-F", "HJ-" + If), Ipt(p, "-X", "HJ-" + If));

    private static string BaseChain(string p, string chain, string parent, string position) => string.Concat(
        Ipt(p, "-N", chain), Ipt(p, "-D", parent, "-j", chain), Ipt(p, "-I", parent, position, "-j", chain));

    private static string CreateIptables(string p) => string.Concat(
        BaseChain(p, "libvirt-in", "FORWARD", "1"),
        BaseChain(p, "libvirt-out", "FORWARD", "2"),
        BaseChain(p, "libvirt-in-post", "FORWARD", "3"),
        BaseChain(p, "libvirt-host-in", "INPUT", "1"),
        Ipt(p, "-N", "FP-" + If), Ipt(p, "-N", "FJ-" + If), Ipt(p, "-N", "HJ-" + If),
        Ipt(p, "-A", "libvirt-out", "-m", "physdev", "--physdev-is-bridged", "--physdev-out", If, "-g", "FP-" + If),
        Ipt(p, "-A", "libvirt-in", "-m", "physdev", "--physdev-in", If, "-g", "FJ-" + If),
        Ipt(p, "-A", "libvirt-host-in", "-m", "physdev", "--physdev-in", If, "-g", "HJ-" + If),
        Ipt(p, "-D", "libvirt-in-post", "-m", "physdev", "--physdev-in", If, "-j", "ACCEPT"),
        Ipt(p, "-A", "libvirt-in-post", "-m", "physdev", "--physdev-in", If, "-j", "ACCEPT"));

    /// <summary>The blocks, in the newest harness's order.</summary>
    public static readonly string[] Blocks =
    [
        string.Concat(
            Eb("-D", "PREROUTING", "-i", If, "-j", "libvirt-J-" + If),
            Eb("-D", "POSTROUTING", "-o", If, "-j", "libvirt-P-" + If),
            Eb("-L", "libvirt-J-" + If), Eb("-L", "libvirt-P-" + If),
            Eb("-F", "libvirt-J-" + If), Eb("-X", "libvirt-J-" + If),
            Eb("-F", "libvirt-P-" + If), Eb("-X", "libvirt-P-" + If)),
        Eb("-N", "libvirt-J-" + If) + Eb("-N", "libvirt-P-" + If),
        Ipt("iptables", "-L"),
        Ipt("ip6tables", "-L"),
        Eb("-A", "PREROUTING", "-i", If, "-j", "libvirt-J-" + If) + Eb("-A", "POSTROUTING", "-o", If, "-j", "libvirt-P-" + If),
        DropIptables("iptables"),
        CreateIptables("iptables"),
        DropIptables("ip6tables"),
        CreateIptables("ip6tables"),
    ];

    /// <summary>Removes the blocks as the harness does: contiguous matches only, searching on from the last cut.</summary>
    public static string Strip(string recorded) => Strip(recorded, out _);

    /// <summary>As <see cref="Strip(string)"/>, also telling which blocks were found (by index).</summary>
    public static string Strip(string recorded, out List<int> removed)
    {
        var text = recorded;
        var offset = 0;
        removed = [];
        for (var i = 0; i < Blocks.Length; i++)
        {
            var at = text.IndexOf(Blocks[i], offset, StringComparison.Ordinal);
            if (at >= 0)
            {
                text = text.Remove(at, Blocks[i].Length);
                offset = at;
                removed.Add(i);
            }
        }
        return text;
    }
}
