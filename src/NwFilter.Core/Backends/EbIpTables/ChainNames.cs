using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// libvirt's chain names (6.1). ebtables: <c>libvirt-{P}-{IF}</c> root chains and <c>{P}-{IF}-{suffix}</c> sub-chains;
/// iptables/ip6tables: <c>{F|H}{P}-{IF}</c>. P is J (from the VM) or P (to the VM) while building, I or O once final.
/// </summary>
internal static class ChainNames
{
    /// <summary>From the VM, while building.</summary>
    public const char InTemp = 'J';
    /// <summary>To the VM, while building.</summary>
    public const char OutTemp = 'P';
    /// <summary>From the VM, final.</summary>
    public const char In = 'I';
    /// <summary>To the VM, final.</summary>
    public const char Out = 'O';

    public const string PreRouting = "PREROUTING";
    public const string PostRouting = "POSTROUTING";

    public const string VirtIn = "libvirt-in";
    public const string VirtOut = "libvirt-out";
    public const string VirtInPost = "libvirt-in-post";
    public const string HostIn = "libvirt-host-in";

    /// <summary>The base chains and where they hook in, in creation order.</summary>
    public static readonly (string Chain, string Parent, int Position)[] BaseChains =
    [
        (VirtIn, "FORWARD", 1), (VirtOut, "FORWARD", 2), (VirtInPost, "FORWARD", 3), (HostIn, "INPUT", 1),
    ];

    /// <summary>The broadcast group address STP frames go to.</summary>
    public const string StpGroupAddress = "01:80:c2:00:00:00";

    public static string EbRoot(char prefix, string ifname) => $"libvirt-{prefix}-{ifname}";

    public static string EbSub(char prefix, string ifname, string suffix) => $"{prefix}-{ifname}-{suffix}";

    /// <summary>The ebtables chain of a rule: the root chain, or the sub-chain of its filter's chain.</summary>
    public static string EbChain(char prefix, string ifname, string suffix) =>
        suffix == Model.FilterDefinition.RootChain ? EbRoot(prefix, ifname) : EbSub(prefix, ifname, suffix);

    public static string Ipt(char kind, char direction, string ifname) => $"{kind}{direction}-{ifname}";

    /// <summary>
    /// Refuses a port device that cannot be an interface name: empty, longer than 15 characters, or holding white
    /// space, a slash, a colon or a leading dash (it is placed in chain names and arguments).
    /// </summary>
    public static void ValidatePortDevice(string portDevice)
    {
        ArgumentNullException.ThrowIfNull(portDevice);
        if (Schema.InterfaceNames.Check(portDevice) is { } problem)
        {
            throw new NwFilterException(problem);
        }
    }
}
