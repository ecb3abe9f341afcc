using NwFilter.Core.Backends.Nftables.Kernel;
using System.Collections.Immutable;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// The native nftables backend in the shape of <see cref="IFirewallBackend"/>: pure plans whose commands are nft
/// statements, one <c>nft</c> command each, preceded by the <c>nft -j list chains</c> query their content depends on
/// (which generation and id a port has). A dry run answers that query with nothing, which gives the statements of a
/// first apply onto an empty firewall; the -WhatIf view. The applier (<see cref="NftablesApplier"/>) runs the same
/// statements as ONE <c>nft -f</c> transaction, which is how they are meant to run: one by one they are not atomic.
/// </summary>
/// <remarks>
/// nft swaps a port inside the apply transaction (new chains, repointed map elements, old chains deleted), so there
/// are no temporary chains: <see cref="TearOldRules"/> and <see cref="TearNewRules"/> have nothing to do.
/// </remarks>
internal sealed partial class NftablesBackend : IFirewallBackend
{
    public static NftablesBackend Instance { get; } = new();

    public const string BackendName = "nftables";

    public string Name => BackendName;

    public FirewallPlan ApplyNewRules(string portDevice, IReadOnlyList<RuleInstance> instances)
    {
        var ruleset = NftablesCompiler.Compile(portDevice, instances);
        NftScriptPlanner.ValidateForNft(portDevice);
        return Planned(nameof(ApplyNewRules), portDevice, new StateQuery([NftPortChange.Set(ruleset)]));
    }

    public FirewallPlan TearOldRules(string portDevice) => Empty(nameof(TearOldRules), portDevice);

    public FirewallPlan TearNewRules(string portDevice) => Empty(nameof(TearNewRules), portDevice);

    public FirewallPlan AllTeardown(string portDevice)
    {
        NftScriptPlanner.ValidateForNft(portDevice);
        return Planned(nameof(AllTeardown), portDevice, new StateQuery([NftPortChange.Remove(portDevice)]));
    }

    private FirewallPlan Planned(string operation, string portDevice, StateQuery query) =>
        new(Name, operation, portDevice,
            [new FirewallTransaction([new FirewallCommand(NftablesApplier.NftProgram, ["-j", "list", "chains"]) { Query = query }])]);

    private FirewallPlan Empty(string operation, string portDevice)
    {
        NftScriptPlanner.ValidateForNft(portDevice);
        return new(Name, operation, portDevice, []);
    }

    /// <summary>The statements of a script as <c>nft</c> commands, one each (words split outside double quotes).</summary>
    public static ImmutableArray<FirewallCommand> AsCommands(NftScript script)
    {
        ArgumentNullException.ThrowIfNull(script);
        return [.. script.Statements.Select(s => new FirewallCommand(NftablesApplier.NftProgram, Words(s)))];
    }

    internal static ImmutableArray<string> Words(string statement)
    {
        var words = ImmutableArray.CreateBuilder<string>();
        var start = -1;
        var quoted = false;
        for (var i = 0; i <= statement.Length; i++)
        {
            var end = i == statement.Length;
            var c = end ? ' ' : statement[i];
            if (c == '"')
            {
                quoted = !quoted;
            }
            if (c == ' ' && !quoted)
            {
                if (start >= 0)
                {
                    words.Add(statement[start..i]);
                    start = -1;
                }
            }
            else if (start < 0)
            {
                start = i;
            }
        }
        return words.ToImmutable();
    }

    /// <summary>The state listing's follow-up: the statements planned against the state it lists.</summary>
    private sealed record StateQuery(ImmutableArray<NftPortChange> Changes) : FirewallQuery
    {
        public override IEnumerable<FirewallCommand> FollowUp(IReadOnlyList<string> output) =>
            AsCommands(NftScriptPlanner.Plan(NftState.ParseChainListing(string.Join('\n', output)), Changes));

        public bool Equals(StateQuery? other) => other is not null && Changes.SequenceEqual(other.Changes);

        public override int GetHashCode() => Changes.Length;
    }
}
