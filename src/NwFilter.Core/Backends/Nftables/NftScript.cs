using System.Collections.Immutable;
using System.Text;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>A change to one port: give it a ruleset (create or replace), or remove it.</summary>
internal sealed record NftPortChange
{
    private NftPortChange(string portDevice, NftPortRuleset? ruleset)
    {
        PortDevice = portDevice;
        Ruleset = ruleset;
    }

    public string PortDevice { get; }

    /// <summary>The new ruleset; null for a removal.</summary>
    public NftPortRuleset? Ruleset { get; }

    public bool IsRemoval => Ruleset is null || Ruleset.IsEmpty;

    /// <summary>Create or replace the port's rules.</summary>
    public static NftPortChange Set(NftPortRuleset ruleset)
    {
        ArgumentNullException.ThrowIfNull(ruleset);
        return new(ruleset.PortDevice, ruleset);
    }

    /// <summary>Remove the port's rules.</summary>
    public static NftPortChange Remove(string portDevice)
    {
        ArgumentException.ThrowIfNullOrEmpty(portDevice);
        return new(portDevice, null);
    }
}

/// <summary>What a script does to one port.</summary>
/// <param name="PortDevice">The port.</param>
/// <param name="Id">Its id (mark value); 0 for a removal.</param>
/// <param name="Generation">The generation created; 0 for a removal.</param>
/// <param name="Replaced">The generations deleted.</param>
internal sealed record NftPortOutcome(string PortDevice, int Id, int Generation, ImmutableArray<int> Replaced)
{
    public string PortDevice { get; internal init; } = PortDevice;
    public int Id { get; internal init; } = Id;
    public int Generation { get; internal init; } = Generation;
    public ImmutableArray<int> Replaced { get; internal init; } = Replaced;
}

/// <summary>
/// One nft transaction: the statements, one per line, fed to <c>nft -f -</c> (all or nothing). Line N of an nft error
/// is <see cref="Statements"/>[N-1].
/// </summary>
/// <param name="Statements">The statements, in order.</param>
/// <param name="Ports">What happens to each port changed.</param>
internal sealed record NftScript(ImmutableArray<string> Statements, ImmutableArray<NftPortOutcome> Ports)
{
    public ImmutableArray<string> Statements { get; internal init; } = Statements;
    public ImmutableArray<NftPortOutcome> Ports { get; internal init; } = Ports;

    public bool IsEmpty => Statements.IsEmpty;

    /// <summary>The state NwFilter's tables are in once the script has committed (what a fresh read would show).</summary>
    public NftState Result { get; internal init; } = NftState.Empty;

    /// <summary>The script text: every statement on its own line.</summary>
    public string Text
    {
        get
        {
            var text = new StringBuilder(Statements.Sum(s => s.Length + 1));
            foreach (var statement in Statements)
            {
                text.Append(statement).Append('\n');
            }
            return text.ToString();
        }
    }

    public override string ToString() => Text;
}
