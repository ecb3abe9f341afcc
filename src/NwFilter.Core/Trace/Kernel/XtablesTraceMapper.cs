using System.Text.Json;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Trace.Kernel;

/// <summary>
/// The EbIpTables backend's mapper. With the nft-based tools, libvirt's ebtables/iptables/ip6tables rules are
/// nf_tables rules in tables <c>bridge nat</c>, <c>ip filter</c> and <c>ip6 filter</c>, so the kernel traces them as
/// any other; they carry no comment (they are byte-exact with libvirt's), so a rule event (<c>nft -a monitor trace</c>
/// prints its handle) is mapped by table, chain and handle: the rule's position in its chain, from the kernel's
/// listing (<c>nft -j -a list table</c>), gives the plan's command that appended it (<see cref="XtablesProvenance"/>,
/// as the counters do), and that command's origin the rule instance. Only the port's chains are mapped
/// (<c>libvirt-I-vnet0</c>, <c>I-vnet0-ipv4</c>, <c>FI-vnet0</c>, ...); the chains all ports share (PREROUTING,
/// FORWARD, libvirt-in, ...) hold only jumps into the ports' chains, which are no rule instance's.
/// </summary>
internal sealed class XtablesTraceMapper : ILiveTraceMapper
{
    private static readonly (string Program, string Family, string Table)[] Tables =
    [
        (FirewallCommand.Ebtables, "bridge", "nat"),
        (FirewallCommand.Iptables, "ip", "filter"),
        (FirewallCommand.Ip6tables, "ip6", "filter"),
    ];

    private readonly string? _namespace;
    private readonly IProcessRunner _runner;
    private readonly string _port;
    private readonly Dictionary<string, Dictionary<string, List<FirewallCommand>>> _planned;
    private readonly Dictionary<string, IReadOnlyDictionary<long, (string Chain, int Position)>> _positions = new(StringComparer.Ordinal);
    private readonly HashSet<(string Family, long Handle)> _relisted = [];

    private XtablesTraceMapper(string? networkNamespace, IProcessRunner runner, string portDevice, Dictionary<string, Dictionary<string, List<FirewallCommand>>> planned)
    {
        _namespace = networkNamespace;
        _runner = runner;
        _port = portDevice;
        _planned = planned;
    }

    /// <summary>
    /// A mapper for <paramref name="portDevice"/>'s rules as <paramref name="commands"/> (the binding's compiled
    /// commands, <see cref="Ruleset.Commands"/>) append them. Refuses legacy xtables tools (their rules are not
    /// nf_tables rules: the kernel's trace does not see them), then reads the positions of the port's rules.
    /// </summary>
    public static async Task<XtablesTraceMapper> CreateAsync(string? networkNamespace, string portDevice, IEnumerable<FirewallCommand> commands,
        IProcessRunner? runner = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        runner ??= ProcessRunner.Default;
        var list = commands.ToList();
        var planned = new Dictionary<string, Dictionary<string, List<FirewallCommand>>>(StringComparer.Ordinal);
        foreach (var (program, family, _) in Tables)
        {
            var chains = XtablesProvenance.Planned(list, portDevice, program);
            if (chains.Count == 0)
            {
                continue;
            }
            var path = FirewallTools.Locate(program);
            var version = path is null ? null
                : await runner.RunAsync(new ProcessRequest(path, "-V") { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken).ConfigureAwait(false);
            if (Untraceable(program, version is null ? null : version.StandardOutput + version.StandardError) is { } refusal)
            {
                throw new NwFilterException(refusal);
            }
            planned[family] = chains;
        }
        var mapper = new XtablesTraceMapper(networkNamespace, runner, portDevice, planned);
        foreach (var family in planned.Keys)
        {
            await mapper.ListAsync(family, cancellationToken).ConfigureAwait(false);
        }
        return mapper;
    }

    /// <summary>
    /// Why <paramref name="program"/> cannot be traced live, given its <c>-V</c> text (null: not installed), or null
    /// when it is the nf_tables variant.
    /// </summary>
    internal static Diagnostic? Untraceable(string program, string? versionText)
    {
        var (version, variant) = versionText is null ? (null, FirewallToolVariant.Missing) : FirewallTools.ParseVersion(versionText, isNft: false);
        if (variant == FirewallToolVariant.NfTables)
        {
            return null;
        }
        var what = variant switch
        {
            FirewallToolVariant.Missing => "is not installed",
            FirewallToolVariant.Legacy => $"is the legacy variant ({program} {version} (legacy)): its rules live in the old xtables tables, which the kernel's nftrace does not see",
            _ => $"names no known variant in its version ('{versionText!.Trim()}'), so its rules cannot be shown to be nf_tables rules",
        };
        return Diagnostic.Error(TraceCodes.LiveNotTraceable,
            $"The port's {program} rules cannot be traced live: {program} {what}. -Live traces EbIpTables bindings only with the nf_tables-based tools " +
            $"(ebtables-nft, iptables-nft, ip6tables-nft); trace the port without -Live to simulate it.", DiagnosticCategory.InvalidOperation) with { Value = program };
    }

    /// <summary>
    /// The port's rules in one table as <c>nft -j -a list table</c> prints it: each rule's handle with its chain and its
    /// 0-based position in that chain (the listing gives a chain's rules in their order).
    /// </summary>
    internal static IReadOnlyDictionary<long, (string Chain, int Position)> Positions(string json, string portDevice)
    {
        ArgumentNullException.ThrowIfNull(json);
        var positions = new Dictionary<long, (string Chain, int Position)>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("nftables", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            return positions;
        }
        foreach (var item in items.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("rule", out var rule)
                || !rule.TryGetProperty("chain", out var chainElement) || chainElement.GetString() is not { } chain
                || !rule.TryGetProperty("handle", out var handleElement) || !handleElement.TryGetInt64(out var handle))
            {
                continue;
            }
            counts.TryGetValue(chain, out var position);
            counts[chain] = position + 1;
            if (XtablesProvenance.FinalName(chain, portDevice) == chain)
            {
                positions[handle] = (chain, position);
            }
        }
        return positions;
    }

    /// <inheritdoc/>
    public bool IsPorts(NftTraceEvent e) =>
        _planned.ContainsKey(e.Family) && Tables.Any(t => t.Family == e.Family && t.Table == e.Table)
        && XtablesProvenance.FinalName(e.Chain, _port) == e.Chain;

    /// <inheritdoc/>
    public async ValueTask<TraceStep?> StepAsync(NftTraceEvent e, CancellationToken cancellationToken)
    {
        if (e.Kind != "rule" || e.Handle is not { } handle || !IsPorts(e))
        {
            return null;
        }
        if (!_positions[e.Family].ContainsKey(handle) && _relisted.Add((e.Family, handle)))
        {
            // A handle not listed at the start: the port's rules were applied again since (new handles). Read them once more.
            await ListAsync(e.Family, cancellationToken).ConfigureAwait(false);
        }
        return _positions[e.Family].TryGetValue(handle, out var at) ? Step(e, at.Chain, at.Position, _planned[e.Family], _port) : null;
    }

    /// <summary>
    /// The step of a rule event at <paramref name="position"/> of <paramref name="chain"/> (a chain of the port's), mapped
    /// through the command that appended that rule; null for a rule that is no rule instance's (the chain's jumps into
    /// sub-chains, the closing rule ebtables-nft adds for a chain's policy).
    /// </summary>
    internal static TraceStep? Step(NftTraceEvent e, string chain, int position, IReadOnlyDictionary<string, List<FirewallCommand>> planned, string portDevice)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(planned);
        var command = planned.TryGetValue(chain, out var list) && position < list.Count ? list[position] : null;
        if (command?.Origin is not { } origin || e.Verdict?.StartsWith("jump ", StringComparison.Ordinal) == true || e.Verdict?.StartsWith("goto ", StringComparison.Ordinal) == true)
        {
            return null;
        }
        var role = XtablesProvenance.Role(chain, portDevice);
        var instance = origin.Instance;
        return new TraceStep
        {
            Kind = TraceStepKind.Rule,
            Chain = role,
            Verdict = NftTraceEvents.Verdict(e.Verdict),
            Filter = instance.FilterName,
            Priority = instance.RulePriority,
            Direction = instance.Rule.Direction,
            Action = instance.Rule.Action,
            Rule = NwFilterXmlWriter.Write(instance.Rule),
            PortDevice = portDevice,
            PacketDirection = role.StartsWith('I') || role is "FI" or "HI" ? TraceDirection.Out : TraceDirection.In,
            Reason = $"Kernel: {e.Family} {e.Table} {chain} rule {position + 1} (handle {e.Handle}) verdict {e.Verdict}.",
        };
    }

    private async Task ListAsync(string family, CancellationToken cancellationToken)
    {
        var table = Tables.First(t => t.Family == family).Table;
        var request = new ProcessRequest(FirewallTools.Locate("nft") ?? "nft", "-j", "-a", "list", "table", family, table) { Timeout = TimeSpan.FromSeconds(30) };
        var result = await _runner.RunAsync(_namespace is null ? request : NetworkNamespace.Wrap(request, _namespace), cancellationToken).ConfigureAwait(false);
        // No such table: none of the port's rules is in the kernel (nothing of it can be traced, which is no error).
        _positions[family] = result.Succeeded ? Positions(result.StandardOutput, _port) : new Dictionary<long, (string Chain, int Position)>();
    }
}
