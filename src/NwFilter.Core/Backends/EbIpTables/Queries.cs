using System.Collections.Immutable;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>The target chain of an ebtables listing line (<c>... -j CHAIN</c>), or null.</summary>
internal static class EbtablesListing
{
    public static string? JumpTarget(string line)
    {
        var at = line.IndexOf("-j ", StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }
        var rest = line.AsSpan(at + 3).Trim();
        var end = rest.IndexOfAny(' ', '\t', ',');
        return (end < 0 ? rest : rest[..end]).ToString();
    }
}

/// <summary>
/// <c>ebtables -t nat -L ROOT</c> while removing chains: every listed jump to a chain named <c>{prefix}-...</c> (for
/// the given prefixes) is listed in turn, flushed and deleted.
/// </summary>
internal sealed record EbtablesRemoveSubChainsQuery(string Prefixes) : FirewallQuery
{
    public override IEnumerable<FirewallCommand> FollowUp(IReadOnlyList<string> output)
    {
        foreach (var line in output)
        {
            if (EbtablesListing.JumpTarget(line) is { Length: >= 2 } chain && Prefixes.Contains(chain[0], StringComparison.Ordinal) && chain[1] == '-')
            {
                yield return Commands.Eb(true, "-L", chain) with { Query = this };
                yield return Commands.Eb(true, "-F", chain);
                yield return Commands.Eb(true, "-X", chain);
            }
        }
    }
}

/// <summary>
/// <c>ebtables -t nat -L libvirt-J|P-IF</c> while switching to the new rules: every temporary sub-chain listed is
/// renamed to its final name (J to I, P to O), recursively, after removing any chain of that final name.
/// </summary>
internal sealed record EbtablesRenameSubChainsQuery : FirewallQuery
{
    public override IEnumerable<FirewallCommand> FollowUp(IReadOnlyList<string> output)
    {
        foreach (var line in output)
        {
            if (EbtablesListing.JumpTarget(line) is not { Length: >= 2 } chain || chain[0] is not (ChainNames.InTemp or ChainNames.OutTemp) || chain[1] != '-')
            {
                continue;
            }
            var final = (chain[0] == ChainNames.InTemp ? ChainNames.In : ChainNames.Out) + chain[1..];
            yield return Commands.Eb(false, "-L", chain) with { Query = this };
            yield return Commands.Eb(true, "-F", final);
            yield return Commands.Eb(true, "-X", final);
            yield return Commands.Eb(false, "-E", chain, final);
        }
    }
}

/// <summary>
/// <c>iptables -w -L</c> (or ip6tables) while applying new rules: clears leftover temporary chains, creates the base
/// chains the listing does not show (a line <c>Chain NAME...</c> whose text after "Chain " starts with the name counts,
/// a prefix test as in libvirt), creates and links the interface's temporary chains, then adds the rules.
/// </summary>
internal sealed record IptablesBaseChainQuery(string Program, string PortDevice, ImmutableArray<FirewallCommand> Rules) : FirewallQuery
{
    public override IEnumerable<FirewallCommand> FollowUp(IReadOnlyList<string> output)
    {
        var result = new List<FirewallCommand>(Rules.Length + 32);
        result.AddRange(Commands.IptUnlinkRoots(Program, PortDevice, temporary: true));
        result.AddRange(Commands.IptRemoveRoots(Program, PortDevice, temporary: true));
        foreach (var (chain, parent, position) in ChainNames.BaseChains)
        {
            if (!Seen(output, chain))
            {
                result.AddRange(Commands.IptCreateBaseChain(Program, chain, parent, position));
            }
        }
        result.AddRange(Commands.IptCreateTempRoots(Program, PortDevice));
        result.AddRange(Commands.IptLinkTempRoots(Program, PortDevice));
        result.AddRange(Commands.IptVirtInPost(Program, PortDevice, add: true));
        result.AddRange(Rules);
        return result;
    }

    private static bool Seen(IReadOnlyList<string> output, string chain)
    {
        foreach (var line in output)
        {
            if (line.StartsWith("Chain ", StringComparison.Ordinal) && line.AsSpan(6).StartsWith(chain, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    public bool Equals(IptablesBaseChainQuery? other) =>
        other is not null && Program == other.Program && PortDevice == other.PortDevice && Rules.SequenceEqual(other.Rules);

    public override int GetHashCode() => HashCode.Combine(Program, PortDevice, Rules.Length);
}
