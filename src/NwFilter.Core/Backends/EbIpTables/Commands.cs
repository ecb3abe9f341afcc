using System.Collections.Immutable;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>Builders for the fixed commands: the chain plumbing around the rules (6.3).</summary>
internal static class Commands
{
    public static FirewallCommand Eb(bool ignoreErrors, params string[] args) =>
        new(FirewallCommand.Ebtables, [.. (ReadOnlySpan<string>)["--concurrent", "-t", "nat"], .. args]) { IgnoreErrors = ignoreErrors };

    public static FirewallCommand Ipt(string program, bool ignoreErrors, params string[] args) =>
        new(program, [.. (ReadOnlySpan<string>)["-w"], .. args]) { IgnoreErrors = ignoreErrors };

    // ---------------------------------------------------------------------------------------------------------------
    // ebtables

    /// <summary>Hooks a root chain: from the VM in PREROUTING (-i), to the VM in POSTROUTING (-o).</summary>
    private static string[] Hook(bool incoming, char prefix, string ifname) =>
        [incoming ? ChainNames.PreRouting : ChainNames.PostRouting, incoming ? "-i" : "-o", ifname, "-j", ChainNames.EbRoot(prefix, ifname)];

    public static FirewallCommand EbLinkRoot(bool incoming, char prefix, string ifname) =>
        Eb(false, ["-A", .. Hook(incoming, prefix, ifname)]);

    public static FirewallCommand EbUnlinkRoot(bool incoming, char prefix, string ifname) =>
        Eb(true, ["-D", .. Hook(incoming, prefix, ifname)]);

    public static FirewallCommand EbCreateRoot(char prefix, string ifname) => Eb(false, "-N", ChainNames.EbRoot(prefix, ifname));

    public static IEnumerable<FirewallCommand> EbRemoveChain(string chain) => [Eb(true, "-F", chain), Eb(true, "-X", chain)];

    /// <summary>Lists each root chain and removes every sub-chain it jumps to, recursively (prefixes: "JP" or "IO").</summary>
    public static IEnumerable<FirewallCommand> EbRemoveSubChains(string prefixes, string ifname) =>
        prefixes.Select(p => Eb(true, "-L", ChainNames.EbRoot(p, ifname)) with { Query = new EbtablesRemoveSubChainsQuery(prefixes) });

    /// <summary>Unlinks and removes the root chains (and their sub-chains) of the given prefixes (in, out).</summary>
    public static IEnumerable<FirewallCommand> EbTearDown(char inPrefix, char outPrefix, string ifname) =>
    [
        EbUnlinkRoot(true, inPrefix, ifname),
        EbUnlinkRoot(false, outPrefix, ifname),
        .. EbRemoveSubChains(new string([inPrefix, outPrefix]), ifname),
        .. EbRemoveChain(ChainNames.EbRoot(inPrefix, ifname)),
        .. EbRemoveChain(ChainNames.EbRoot(outPrefix, ifname)),
    ];

    // ---------------------------------------------------------------------------------------------------------------
    // iptables / ip6tables

    private static string[] PhysdevOut(string ifname) => ["-m", "physdev", "--physdev-is-bridged", "--physdev-out", ifname];
    private static string[] PhysdevOutOld(string ifname) => ["-m", "physdev", "--physdev-out", ifname];
    private static string[] PhysdevIn(string ifname) => ["-m", "physdev", "--physdev-in", ifname];

    /// <summary>The three root chains (FP/FO, FJ/FI, HJ/HI) and the base chain each hangs off.</summary>
    private static (string Base, char Kind, bool Incoming, char Direction)[] Roots(bool temporary) =>
    [
        (ChainNames.VirtOut, 'F', false, temporary ? ChainNames.OutTemp : ChainNames.Out),
        (ChainNames.VirtIn, 'F', true, temporary ? ChainNames.InTemp : ChainNames.In),
        (ChainNames.HostIn, 'H', true, temporary ? ChainNames.InTemp : ChainNames.In),
    ];

    /// <summary>Unlinks the root chains from the base chains (and the old link form without --physdev-is-bridged).</summary>
    public static IEnumerable<FirewallCommand> IptUnlinkRoots(string program, string ifname, bool temporary)
    {
        foreach (var (baseChain, kind, incoming, direction) in Roots(temporary))
        {
            var chain = ChainNames.Ipt(kind, direction, ifname);
            if (incoming)
            {
                yield return Ipt(program, true, ["-D", baseChain, .. PhysdevIn(ifname), "-g", chain]);
            }
            else
            {
                yield return Ipt(program, true, ["-D", baseChain, .. PhysdevOut(ifname), "-g", chain]);
                yield return Ipt(program, true, ["-D", baseChain, .. PhysdevOutOld(ifname), "-g", chain]);
            }
        }
    }

    public static IEnumerable<FirewallCommand> IptRemoveRoots(string program, string ifname, bool temporary) =>
        Roots(temporary).SelectMany(r =>
        {
            var chain = ChainNames.Ipt(r.Kind, r.Direction, ifname);
            return new[] { Ipt(program, true, "-F", chain), Ipt(program, true, "-X", chain) };
        });

    public static IEnumerable<FirewallCommand> IptCreateTempRoots(string program, string ifname) =>
        Roots(true).Select(r => Ipt(program, false, "-N", ChainNames.Ipt(r.Kind, r.Direction, ifname)));

    public static IEnumerable<FirewallCommand> IptLinkTempRoots(string program, string ifname) =>
        Roots(true).Select(r =>
        {
            var chain = ChainNames.Ipt(r.Kind, r.Direction, ifname);
            return r.Incoming
                ? Ipt(program, false, ["-A", r.Base, .. PhysdevIn(ifname), "-g", chain])
                : Ipt(program, false, ["-A", r.Base, .. PhysdevOut(ifname), "-g", chain]);
        });

    public static IEnumerable<FirewallCommand> IptRenameTempRoots(string program, string ifname) =>
        Roots(true).Zip(Roots(false), (t, f) =>
            Ipt(program, true, "-E", ChainNames.Ipt(t.Kind, t.Direction, ifname), ChainNames.Ipt(f.Kind, f.Direction, ifname)));

    /// <summary>The per-interface ACCEPT in libvirt-in-post: removed, then (when <paramref name="add"/>) added again.</summary>
    public static IEnumerable<FirewallCommand> IptVirtInPost(string program, string ifname, bool add)
    {
        yield return Ipt(program, true, ["-D", ChainNames.VirtInPost, .. PhysdevIn(ifname), "-j", "ACCEPT"]);
        if (add)
        {
            yield return Ipt(program, false, ["-A", ChainNames.VirtInPost, .. PhysdevIn(ifname), "-j", "ACCEPT"]);
        }
    }

    /// <summary>Creates a base chain and hooks it at its position: <c>-N X</c>, <c>-D PARENT -j X</c>, <c>-I PARENT POS -j X</c>.</summary>
    public static IEnumerable<FirewallCommand> IptCreateBaseChain(string program, string chain, string parent, int position) =>
    [
        Ipt(program, false, "-N", chain),
        Ipt(program, true, "-D", parent, "-j", chain),
        Ipt(program, false, "-I", parent, position.ToString(System.Globalization.CultureInfo.InvariantCulture), "-j", chain),
    ];

    public static ImmutableArray<FirewallCommand> ToArray(IEnumerable<FirewallCommand> commands) => [.. commands];
}
