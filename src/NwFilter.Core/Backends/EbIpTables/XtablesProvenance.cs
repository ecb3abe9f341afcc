using NwFilter.Core.Lowering;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>A rule of a port's chain as a save tool lists it, mapped back to the command (and rule instance) it came from.</summary>
/// <param name="Program">ebtables, iptables or ip6tables.</param>
/// <param name="Chain">The chain's final name (<c>libvirt-I-vnet0</c>, <c>I-vnet0-arp</c>, <c>FI-vnet0</c>).</param>
/// <param name="Position">The rule's 0-based position in that chain.</param>
/// <param name="Line">The save tool's line.</param>
/// <param name="Command">The plan's command that appended it, or null when the kernel chain has more rules than planned.</param>
internal sealed record XtablesRuleProvenance(string Program, string Chain, int Position, string Line, FirewallCommand? Command)
{
    public string Program { get; internal init; } = Program;
    public string Chain { get; internal init; } = Chain;
    public int Position { get; internal init; } = Position;
    public string Line { get; internal init; } = Line;
    public FirewallCommand? Command { get; internal init; } = Command;

    /// <summary>The rule instance, or null for the chain plumbing (jumps into sub-chains) or an unplanned rule.</summary>
    public RuleOrigin? Origin => Command?.Origin;
}

/// <summary>
/// Maps the kernel's xtables rules of a port back to the plan's commands: the xtables text is byte-exact with libvirt's,
/// so provenance lives in the plan (<see cref="FirewallCommand.Origin"/>) and a kernel rule is found by its chain and
/// position (docs/design/applying.md: provenance).
/// </summary>
internal static class XtablesProvenance
{
    /// <summary>
    /// The rules of <paramref name="portDevice"/>'s chains in <paramref name="saveOutput"/> (<c>ebtables-save -t nat</c>,
    /// <c>iptables-save -t filter</c>, <c>ip6tables-save -t filter</c>), each with the command of
    /// <paramref name="commands"/> (a plan's commands with the queries answered, <see cref="Ruleset.Commands"/>) that
    /// appended it to the chain's temporary name.
    /// </summary>
    public static IReadOnlyList<XtablesRuleProvenance> Map(IEnumerable<FirewallCommand> commands, string portDevice, string program, string saveOutput)
    {
        ArgumentNullException.ThrowIfNull(commands);
        ArgumentNullException.ThrowIfNull(saveOutput);
        var planned = Planned(commands, portDevice, program);

        var mapped = new List<XtablesRuleProvenance>();
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in saveOutput.Split('\n'))
        {
            if (!line.StartsWith("-A ", StringComparison.Ordinal))
            {
                continue;
            }
            var end = line.IndexOf(' ', 3);
            var chain = end < 0 ? line[3..] : line[3..end];
            if (FinalName(chain, portDevice) != chain)
            {
                continue;
            }
            positions.TryGetValue(chain, out var position);
            positions[chain] = position + 1;
            var command = planned.TryGetValue(chain, out var list) && position < list.Count ? list[position] : null;
            mapped.Add(new XtablesRuleProvenance(program, chain, position, line.TrimEnd('\r'), command));
        }
        return mapped;
    }

    /// <summary>
    /// The commands of <paramref name="program"/> that append a rule to one of <paramref name="portDevice"/>'s chains, by
    /// the chain's final name, in the order they run: the command at index N made the chain's rule at position N.
    /// </summary>
    internal static Dictionary<string, List<FirewallCommand>> Planned(IEnumerable<FirewallCommand> commands, string portDevice, string program)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var planned = new Dictionary<string, List<FirewallCommand>>(StringComparer.Ordinal);
        foreach (var command in commands)
        {
            if (command.Program != program)
            {
                continue;
            }
            var at = command.Arguments.IndexOf("-A");
            if (at < 0 || at + 1 >= command.Arguments.Length || FinalName(command.Arguments[at + 1], portDevice) is not { } chain)
            {
                continue;
            }
            if (!planned.TryGetValue(chain, out var list))
            {
                planned[chain] = list = [];
            }
            list.Add(command);
        }
        return planned;
    }

    /// <summary>
    /// The role of one of the port's chains by its final name, as the nftables backend and the simulation name it:
    /// <c>libvirt-I-vnet0</c> gives <c>I</c>, <c>I-vnet0-ipv4-ip</c> gives <c>I-ipv4-ip</c>, <c>FI-vnet0</c> gives <c>FI</c>.
    /// </summary>
    internal static string Role(string finalChain, string portDevice)
    {
        ArgumentNullException.ThrowIfNull(finalChain);
        if (finalChain.StartsWith("libvirt-", StringComparison.Ordinal) && finalChain.Length > 9)
        {
            return finalChain[8].ToString();
        }
        if (finalChain.Length == 3 + portDevice.Length && finalChain[2] == '-')
        {
            return finalChain[..2];
        }
        return finalChain.Length > 3 + portDevice.Length ? $"{finalChain[0]}-{finalChain[(3 + portDevice.Length)..]}" : finalChain;
    }

    /// <summary>The final name of one of the port's chains (temporary or final), or null when it is not the port's.</summary>
    internal static string? FinalName(string chain, string portDevice)
    {
        static char Final(char side) => side switch { ChainNames.InTemp => ChainNames.In, ChainNames.OutTemp => ChainNames.Out, _ => side };
        static bool Side(char c) => c is ChainNames.InTemp or ChainNames.OutTemp or ChainNames.In or ChainNames.Out;

        // libvirt-X-IF
        if (chain.Length == 10 + portDevice.Length && chain.StartsWith("libvirt-", StringComparison.Ordinal) && Side(chain[8]) &&
            chain[9] == '-' && chain.AsSpan(10).SequenceEqual(portDevice))
        {
            return ChainNames.EbRoot(Final(chain[8]), portDevice);
        }
        // X-IF-SUFFIX
        if (chain.Length > 3 + portDevice.Length && Side(chain[0]) && chain[1] == '-' &&
            chain.AsSpan(2).StartsWith(portDevice) && chain[2 + portDevice.Length] == '-')
        {
            return ChainNames.EbSub(Final(chain[0]), portDevice, chain[(3 + portDevice.Length)..]);
        }
        // KX-IF (iptables)
        if (chain.Length == 3 + portDevice.Length && chain[0] is 'F' or 'H' && Side(chain[1]) && chain[2] == '-' && chain.AsSpan(3).SequenceEqual(portDevice))
        {
            return ChainNames.Ipt(chain[0], Final(chain[1]), portDevice);
        }
        return null;
    }
}
