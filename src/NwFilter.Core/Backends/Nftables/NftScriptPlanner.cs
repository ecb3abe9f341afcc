using System.Collections.Immutable;
using System.Globalization;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Diagnostics;
using static NwFilter.Core.Backends.Nftables.NftNames;

namespace NwFilter.Core.Backends.Nftables;

/// <summary>
/// Plans one nft transaction for many port changes against the kernel's current state (pure). For each port set: new
/// chains under the next generation's names, then the verdict-map elements repointed to them, then the old generation
/// deleted; for each port removed: its elements, then its chains. The tables and their base chains are created when
/// missing; when no port is left, both tables are deleted. nft commits it all or nothing.
/// </summary>
internal static class NftScriptPlanner
{
    private const string Bridge = BridgeFamily + " " + Table;
    private const string Inet = InetFamily + " " + Table;

    /// <summary>The transaction for <paramref name="changes"/> on a kernel in <paramref name="state"/>.</summary>
    public static NftScript Plan(NftState state, IReadOnlyList<NftPortChange> changes)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(changes);
        var byPort = new Dictionary<string, NftPortChange>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            ValidateForNft(change.PortDevice);
            byPort[change.PortDevice] = change; // the last change of a port wins
        }

        // Which ports hold chains afterwards, and whether any of them needs the inet table.
        var after = state.Ports.Keys.Where(p => !byPort.ContainsKey(p))
            .ToDictionary(p => p, p => state.Current(p)!.Chains.Any(c => c.Family == NftFamily.Inet), StringComparer.Ordinal);
        foreach (var change in byPort.Values.Where(c => !c.IsRemoval))
        {
            after[change.PortDevice] = change.Ruleset!.HasInet;
        }

        var statements = new List<string>();
        var outcomes = ImmutableArray.CreateBuilder<NftPortOutcome>();
        if (after.Count == 0)
        {
            foreach (var (family, table) in new[] { (NftFamily.Bridge, Bridge), (NftFamily.Inet, Inet) })
            {
                if (state.HasTable(family))
                {
                    statements.Add($"delete table {table}");
                }
            }
            outcomes.AddRange(byPort.Keys.Where(state.Ports.ContainsKey).Select(p => Removed(state, p)));
            return new NftScript([.. statements], outcomes.ToImmutable()) { Result = NftState.Empty };
        }

        var needInet = after.Values.Any(x => x);
        Scaffold(state, statements, needInet);
        var resultPorts = state.Ports.RemoveRange(byPort.Keys);

        var ids = new IdAllocator(state.UsedIds);
        var creates = new List<string>();
        var elements = new List<string>();
        var deletes = new List<string>();
        foreach (var change in byPort.Values)
        {
            var old = state.Current(change.PortDevice);
            var oldGenerations = state.Ports.TryGetValue(change.PortDevice, out var g) ? g : [];
            if (change.IsRemoval)
            {
                if (old is null)
                {
                    continue;
                }
                Repoint(elements, change.PortDevice, old, null, 0, 0);
                DeleteChains(deletes, change.PortDevice, oldGenerations);
                outcomes.Add(Removed(state, change.PortDevice));
                continue;
            }
            var id = old?.Id ?? ids.Next(change.PortDevice);
            var generation = oldGenerations.IsEmpty ? 1 : oldGenerations.Max(x => x.Generation) + 1;
            var ruleset = WithMarks(change.Ruleset!, id);
            foreach (var chain in ruleset.Chains)
            {
                // create, not add: a chain that exists already means the state read is stale, and fails the transaction.
                creates.Add($"create chain {TableOf(chain.Family)} {Chain(change.PortDevice, id, generation, chain.Role)}");
            }
            resultPorts = resultPorts.SetItem(change.PortDevice, [new NftPortGeneration(id, generation, [.. ruleset.Chains.Select(c => (c.Family, c.Role))])]);
            foreach (var chain in ruleset.Chains)
            {
                var name = Chain(change.PortDevice, id, generation, chain.Role);
                foreach (var rule in chain.Rules)
                {
                    creates.Add($"add rule {TableOf(chain.Family)} {name} {rule.ToText(role => Chain(change.PortDevice, id, generation, role))}");
                }
            }
            Repoint(elements, change.PortDevice, old, ruleset, id, generation);
            DeleteChains(deletes, change.PortDevice, oldGenerations);
            outcomes.Add(new NftPortOutcome(change.PortDevice, id, generation, [.. oldGenerations.Select(x => x.Generation)]));
        }
        statements.AddRange(creates);
        statements.AddRange(elements);
        statements.AddRange(deletes);
        var baseChains = state.BaseChains.Union(BaseChainsOf(NftFamily.Bridge));
        var foreign = state.ForeignChains;
        if (needInet)
        {
            baseChains = baseChains.Union(BaseChainsOf(NftFamily.Inet));
        }
        else if (state.HasTable(NftFamily.Inet))
        {
            statements.Add($"delete table {Inet}");
            baseChains = baseChains.Except(BaseChainsOf(NftFamily.Inet));
            foreign = [.. foreign.Where(f => !f.StartsWith(InetFamily + " ", StringComparison.Ordinal))];
        }
        var result = new NftState { BaseChains = baseChains, Ports = resultPorts, ForeignChains = foreign };
        return new NftScript([.. statements], outcomes.ToImmutable()) { Result = result };
    }

    /// <summary>
    /// Refuses a port name that cannot be a literal nft string: besides what every backend refuses, a <c>*</c> (nft
    /// reads a trailing one as a wildcard) and a backslash.
    /// </summary>
    public static void ValidateForNft(string portDevice)
    {
        ChainNames.ValidatePortDevice(portDevice);
        if (portDevice.Any(c => c is '*' or '\\' || c > '~'))
        {
            throw new NwFilterException(Diagnostic.Error("InvalidPortDevice",
                $"'{portDevice}' cannot be written as an nftables interface name (no '*', backslash or non-ASCII characters).",
                DiagnosticCategory.InvalidArgument) with { Value = portDevice });
        }
    }

    private static string TableOf(NftFamily family) => family == NftFamily.Bridge ? Bridge : Inet;

    private static IEnumerable<(NftFamily, string)> BaseChainsOf(NftFamily family) => family == NftFamily.Bridge
        ? [(family, BridgePrerouting), (family, BridgeForward), (family, BridgePostrouting)]
        : [(family, InetForward), (family, InetInput)];

    private static NftPortOutcome Removed(NftState state, string port) =>
        new(port, 0, 0, [.. state.Ports[port].Select(x => x.Generation)]);

    /// <summary>The tables, maps and base chains (each base chain with its one dispatch rule), where missing.</summary>
    private static void Scaffold(NftState state, List<string> statements, bool needInet)
    {
        void Table(NftFamily family, string table, string[] maps, (string Chain, string Hook, int Priority, string[] Rules)[] chains)
        {
            if (chains.All(c => state.BaseChains.Contains((family, c.Chain))))
            {
                return;
            }
            statements.Add($"add table {table}");
            statements.AddRange(maps.Select(m => $"add map {table} {m}"));
            foreach (var (chain, hook, priority, rules) in chains)
            {
                if (state.BaseChains.Contains((family, chain)))
                {
                    continue;
                }
                statements.Add(string.Create(CultureInfo.InvariantCulture,
                    $"add chain {table} {chain} {{ type filter hook {hook} priority {priority}; policy accept; }}"));
                statements.AddRange(rules.Select(r => $"add rule {table} {chain} {r}"));
            }
        }

        Table(NftFamily.Bridge, Bridge,
            [$"{FromVmMap} {{ type ifname : verdict; }}", $"{ToVmMap} {{ type ifname : verdict; }}", $"{MarkToVmMap} {{ type ifname : verdict; }}"],
            [
                (BridgePrerouting, "prerouting", PreroutingPriority, [$"iifname vmap @{FromVmMap}"]),
                (BridgeForward, "forward", BridgeForwardPriority, [$"oifname vmap @{MarkToVmMap}"]),
                (BridgePostrouting, "postrouting", PostroutingPriority, [$"oifname vmap @{ToVmMap}"]),
            ]);
        if (needInet)
        {
            Table(NftFamily.Inet, Inet,
                [$"{ForwardFromVmMap} {{ type mark : verdict; }}", $"{ForwardToVmMap} {{ type mark : verdict; }}", $"{InputFromVmMap} {{ type mark : verdict; }}"],
                [
                    (InetForward, "forward", InetPriority,
                        [$"meta mark and {Hex32(FromMask)} vmap @{ForwardFromVmMap}", $"meta mark and {Hex32(ToMask)} vmap @{ForwardToVmMap}"]),
                    (InetInput, "input", InetPriority, [$"meta mark and {Hex32(FromMask)} vmap @{InputFromVmMap}"]),
                ]);
        }
    }

    /// <summary>
    /// The ruleset with the marks that carry the port's id to the inet table: first thing in I (from the VM, bridge
    /// prerouting), and the chain M (bridge forward, for packets going to the VM). Ports without inet rules get none.
    /// </summary>
    private static NftPortRuleset WithMarks(NftPortRuleset ruleset, int id)
    {
        if (!ruleset.HasInet)
        {
            return ruleset;
        }
        var fromMark = new NftRule($"meta mark set meta mark and {Hex32(ToMask)} or {FromMark(id)}", NftVerdict.None);
        var toMark = new NftRule($"meta mark set meta mark and {Hex32(FromMask)} or {ToMark(id)}", NftVerdict.None);
        var chains = ruleset.Chains.ToList();
        var from = chains.FindIndex(c => c.Role == NftPortRuleset.FromVm);
        if (from >= 0)
        {
            chains[from] = chains[from] with { Rules = chains[from].Rules.Insert(0, fromMark) };
        }
        else
        {
            chains.Insert(0, new NftChain(NftFamily.Bridge, NftPortRuleset.FromVm, [fromMark]));
        }
        var lastBridge = chains.FindLastIndex(c => c.Family == NftFamily.Bridge);
        chains.Insert(lastBridge + 1, new NftChain(NftFamily.Bridge, NftPortRuleset.MarkToVm, [toMark]));
        return ruleset with { Chains = [.. chains] };
    }

    /// <summary>The dispatch maps and the role each points to, with the element key for a port.</summary>
    private static readonly (NftFamily Family, string Map, string Role, bool Goto, bool ByName, bool ToHalf)[] Dispatch =
    [
        (NftFamily.Bridge, FromVmMap, NftPortRuleset.FromVm, false, true, false),
        (NftFamily.Bridge, ToVmMap, NftPortRuleset.ToVm, false, true, false),
        (NftFamily.Bridge, MarkToVmMap, NftPortRuleset.MarkToVm, true, true, false),
        (NftFamily.Inet, ForwardFromVmMap, NftPortRuleset.ForwardFromVm, false, false, false),
        (NftFamily.Inet, ForwardToVmMap, NftPortRuleset.ForwardToVm, false, false, true),
        (NftFamily.Inet, InputFromVmMap, NftPortRuleset.HostFromVm, false, false, false),
    ];

    /// <summary>
    /// Points the port's elements at the new generation (or removes them). An element of the old generation is first
    /// re-added with the value it must have (a no-op when it has it, a repair when it went missing), then deleted and
    /// added anew: nft refuses to add a key that exists with another value, and to delete one that does not exist.
    /// </summary>
    private static void Repoint(List<string> elements, string port, NftPortGeneration? old, NftPortRuleset? ruleset, int id, int generation)
    {
        foreach (var (family, map, role, jumpIsGoto, byName, toHalf) in Dispatch)
        {
            var verb = jumpIsGoto ? "goto" : "jump";
            var hadOld = old is not null && old.Has(family, role);
            var hasNew = ruleset?.Find(role) is not null;
            if (hadOld)
            {
                var oldKey = byName ? $"\"{port}\"" : toHalf ? ToMark(old!.Id) : FromMark(old!.Id);
                elements.Add($"add element {TableOf(family)} {map} {{ {oldKey} : {verb} {Chain(port, old!.Id, old.Generation, role)} }}");
                elements.Add($"delete element {TableOf(family)} {map} {{ {oldKey} }}");
            }
            if (hasNew)
            {
                var key = byName ? $"\"{port}\"" : toHalf ? ToMark(id) : FromMark(id);
                elements.Add($"add element {TableOf(family)} {map} {{ {key} : {verb} {Chain(port, id, generation, role)} }}");
            }
        }
    }

    /// <summary>Deletes every chain of the old generations: roots first (they hold the jumps into the sub-chains).</summary>
    private static void DeleteChains(List<string> deletes, string port, ImmutableArray<NftPortGeneration> generations)
    {
        foreach (var generation in generations)
        {
            foreach (var (family, role) in generation.Chains.OrderBy(c => c.Role.Contains('-', StringComparison.Ordinal) ? 1 : 0))
            {
                deletes.Add($"delete chain {TableOf(family)} {Chain(port, generation.Id, generation.Generation, role)}");
            }
        }
    }

    /// <summary>Hands out the lowest free port id; ids of ports removed in the same transaction are not reused.</summary>
    private sealed class IdAllocator(IEnumerable<int> used)
    {
        private readonly HashSet<int> _used = [.. used];
        private int _next = 1;

        public int Next(string port)
        {
            while (_next <= MaxPortId && _used.Contains(_next))
            {
                _next++;
            }
            if (_next > MaxPortId)
            {
                throw new NwFilterException(Diagnostic.Error(NftablesCodes.TooManyPorts,
                    $"Port {port} cannot get an id: all {MaxPortId} ids of the packet mark are in use.", DiagnosticCategory.ResourceUnavailable)
                    with { Value = port });
            }
            _used.Add(_next);
            return _next++;
        }
    }
}
