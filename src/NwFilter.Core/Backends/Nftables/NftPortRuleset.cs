using System.Collections.Immutable;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>Which of NwFilter's two tables a chain lives in.</summary>
internal enum NftFamily
{
    /// <summary><c>bridge nwfilter</c>: Ethernet-level rules (libvirt's ebtables rules).</summary>
    Bridge,
    /// <summary><c>inet nwfilter</c>: layer-4 rules with connection tracking (libvirt's iptables/ip6tables rules).</summary>
    Inet,
}

/// <summary>What a rule does at its end.</summary>
internal enum NftVerdictKind
{
    /// <summary>No verdict: the rule only has a statement (a mark) and evaluation goes on.</summary>
    None,
    Accept,
    Drop,
    Reject,
    Return,
    Continue,
    /// <summary>Jump to another chain of the same port (a libvirt sub-chain), by role.</summary>
    Jump,
}

/// <summary>A rule's verdict; <see cref="Target"/> is the role of the chain a jump goes to.</summary>
internal sealed record NftVerdict(NftVerdictKind Kind, string? Target = null)
{
    public NftVerdictKind Kind { get; internal init; } = Kind;
    public string? Target { get; internal init; } = Target;

    public static NftVerdict Accept { get; } = new(NftVerdictKind.Accept);
    public static NftVerdict Drop { get; } = new(NftVerdictKind.Drop);
    public static NftVerdict Reject { get; } = new(NftVerdictKind.Reject);
    public static NftVerdict Return { get; } = new(NftVerdictKind.Return);
    public static NftVerdict Continue { get; } = new(NftVerdictKind.Continue);
    public static NftVerdict None { get; } = new(NftVerdictKind.None);

    public static NftVerdict JumpTo(string role) => new(NftVerdictKind.Jump, role);
}

/// <summary>
/// One nft rule of a port, independent of the port's id and generation: the match expressions (already nft text, every
/// value a validated literal), the verdict and an optional comment (checked to be writable). A rule made from a rule
/// instance has its provenance in <see cref="Origin"/> and, readable from the kernel, in its comment (<see cref="NftProvenance"/>).
/// </summary>
/// <param name="Match">The expressions, space-separated; empty matches every packet.</param>
/// <param name="Verdict">The verdict.</param>
/// <param name="Comment">The rule's comment, or null.</param>
internal sealed record NftRule(string Match, NftVerdict Verdict, string? Comment = null)
{
    public string Match { get; internal init; } = Match;
    public NftVerdict Verdict { get; internal init; } = Verdict;
    public string? Comment { get; internal init; } = Comment;

    /// <summary>The rule instance the rule came from; null for NwFilter's own rules (sub-chain jumps, marks).</summary>
    public Lowering.RuleOrigin? Origin { get; internal init; }

    /// <summary>True when the rule counts its packets and bytes (a <c>counter</c> statement before the verdict; per-rule counters).</summary>
    public bool Counter { get; internal init; }

    /// <summary>The rule's text after <c>add rule FAMILY TABLE CHAIN</c>, jumps resolved by <paramref name="chainOfRole"/>.</summary>
    public string ToText(Func<string, string> chainOfRole)
    {
        var verdict = Verdict.Kind switch
        {
            NftVerdictKind.None => "",
            NftVerdictKind.Accept => "accept",
            NftVerdictKind.Drop => "drop",
            NftVerdictKind.Reject => "reject",
            NftVerdictKind.Return => "return",
            NftVerdictKind.Continue => "continue",
            NftVerdictKind.Jump => "jump " + chainOfRole(Verdict.Target!),
            _ => throw new ArgumentOutOfRangeException(nameof(chainOfRole)),
        };
        if (Counter)
        {
            verdict = verdict.Length == 0 ? "counter" : "counter " + verdict;
        }
        var text = Match.Length == 0 ? verdict : verdict.Length == 0 ? Match : Match + " " + verdict;
        return Comment is null ? text : $"{text} comment \"{Comment}\"";
    }
}

/// <summary>One chain of a port: its family, its role and its rules in order.</summary>
/// <param name="Family">The table.</param>
/// <param name="Role">The role: <c>I</c>/<c>O</c> (from/to the VM, bridge), <c>I-SUFFIX</c>/<c>O-SUFFIX</c> (libvirt's
/// sub-chains), <c>FI</c>/<c>FO</c>/<c>HI</c> (inet: forwarded from/to the VM, from the VM to the host).</param>
/// <param name="Rules">The rules.</param>
internal sealed record NftChain(NftFamily Family, string Role, ImmutableArray<NftRule> Rules)
{
    public NftFamily Family { get; internal init; } = Family;
    public string Role { get; internal init; } = Role;
    public ImmutableArray<NftRule> Rules { get; internal init; } = Rules;
}

/// <summary>
/// A port's compiled filter for nftables: its chains, independent of the id and generation the applier gives them.
/// Pure data; <see cref="NftablesCompiler"/> makes it, <see cref="NftScriptPlanner"/> turns it into a script.
/// </summary>
/// <param name="PortDevice">The port (the VM's tap or veth on the bridge).</param>
/// <param name="Chains">The chains, roots first, each root followed by its sub-chains in creation order.</param>
internal sealed record NftPortRuleset(string PortDevice, ImmutableArray<NftChain> Chains)
{
    public string PortDevice { get; internal init; } = PortDevice;
    public ImmutableArray<NftChain> Chains { get; internal init; } = Chains;

    public const string FromVm = "I";
    public const string ToVm = "O";
    public const string ForwardFromVm = "FI";
    public const string ForwardToVm = "FO";
    public const string HostFromVm = "HI";
    /// <summary>The bridge chain that marks forwarded packets with the output port's id (no libvirt equivalent).</summary>
    public const string MarkToVm = "M";

    /// <summary>True when the port has layer-4 rules: then its packets are marked for the inet table.</summary>
    public bool HasInet => Chains.Any(c => c.Family == NftFamily.Inet);

    /// <summary>The chain of a role, or null.</summary>
    public NftChain? Find(string role) => Chains.FirstOrDefault(c => c.Role == role);

    /// <summary>True when nothing at all is filtered (an empty filter): the port gets no chains.</summary>
    public bool IsEmpty => Chains.IsEmpty;
}
