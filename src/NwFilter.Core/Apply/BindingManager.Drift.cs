using System.Collections.Immutable;
using System.Globalization;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Model;

namespace NwFilter.Core.Apply;

public sealed partial class BindingManager
{
    /// <summary>The prefix of the scratch namespaces the drift test makes (and deletes).</summary>
    public const string ScratchPrefix = "nwfilter-scratch-";

    /// <summary>
    /// Compares what the kernel holds with what the stored bindings need (all, or those of
    /// <paramref name="portDevices"/>). The expected rules are made by applying the bindings in a scratch network
    /// namespace and reading them back with the same save tools, so both sides are in the tools' own words. Ports with
    /// NwFilter chains but no binding are reported as <see cref="BindingDriftStatus.Orphaned"/> (when checking all).
    /// </summary>
    public async Task<ImmutableArray<BindingDrift>> TestAsync(IReadOnlyCollection<string>? portDevices = null, CancellationToken cancellationToken = default)
    {
        var (stored, problems) = Store.List();
        var selected = portDevices is null ? stored : [.. stored.Where(b => portDevices.Contains(b.PortDevice))];
        var actual = await KernelState.ReadAsync(HostRunner, new ProcessCounter(), cancellationToken).ConfigureAwait(false);
        // NwFilter's nftables tables; without nft (and no nftables binding) there are none.
        var actualNft = NftFootprint.Parse(await ListNftAsync(HostRunner, required: selected.Any(b => b.Backend == FirewallBackendKind.Nftables), cancellationToken).ConfigureAwait(false));
        var bridge = await BridgeNetfilterStatus.ProbeAsync(HostRunner, cancellationToken).ConfigureAwait(false);

        var compiled = new List<(FilterBinding Binding, Ruleset Ruleset, FirewallPlan Plan)>();
        var reports = new List<BindingDrift>();
        foreach (var binding in selected)
        {
            try
            {
                var prepared = Prepare(binding);
                compiled.Add((binding, prepared.Ruleset, prepared.Plan));
            }
            catch (NwFilterException e)
            {
                var lines = Footprint(actual, binding.PortDevice).Concat(NftFootprint.Of(actualNft, binding.PortDevice, out _));
                reports.Add(new BindingDrift(binding.PortDevice, binding.Filter, BindingDriftStatus.Drifted, [], [.. lines], [.. e.Diagnostics.Select(d => d with { Severity = DiagnosticSeverity.Warning })]));
            }
        }
        var (expected, expectedNft) = compiled.Count == 0 ? (KernelState.Empty(), []) : await ExpectedStateAsync(compiled, cancellationToken).ConfigureAwait(false);
        foreach (var (binding, ruleset, _) in compiled)
        {
            // A port's rules in the other backend are unexpected (left over from a backend change).
            var nftBinding = binding.Backend == FirewallBackendKind.Nftables;
            var want = nftBinding ? NftFootprint.Of(expectedNft, binding.PortDevice, out _) : Footprint(expected, binding.PortDevice);
            var haveEb = Footprint(actual, binding.PortDevice);
            var haveNft = NftFootprint.Of(actualNft, binding.PortDevice, out var hasNftChains);
            var have = nftBinding ? [.. haveNft, .. haveEb] : haveEb.Concat(haveNft).ToList();
            var missing = MultisetExcept(want, have);
            var unexpected = MultisetExcept(have, want);
            var present = nftBinding ? hasNftChains : haveEb.Any(l => l.Contains(": -A ", StringComparison.Ordinal));
            var status = !present && want.Count > 0 ? BindingDriftStatus.Missing
                : want.SequenceEqual(have) ? BindingDriftStatus.InSync
                : BindingDriftStatus.Drifted;
            var warnings = new List<Diagnostic>();
            if (status == BindingDriftStatus.Drifted && missing.Count == 0 && unexpected.Count == 0)
            {
                warnings.Add(Diagnostic.Warning("RuleOrderDiffers", $"The rules of {binding.PortDevice} are all there, in another order."));
            }
            var ports = new[] { binding.PortDevice };
            if (ruleset.Instances.Any(i => i.Layer == ProtocolLayer.IPv4) && bridge.Warn(false, ports, NetworkNamespace) is { } w4)
            {
                warnings.Add(w4);
            }
            if (ruleset.Instances.Any(i => i.Layer == ProtocolLayer.IPv6) && bridge.Warn(true, ports, NetworkNamespace) is { } w6)
            {
                warnings.Add(w6);
            }
            reports.Add(new BindingDrift(binding.PortDevice, binding.Filter, status, [.. missing], [.. unexpected], [.. warnings]));
        }
        if (portDevices is null)
        {
            foreach (var orphan in PortChains.PortsWithChains(actual).Concat(NftFootprint.Ports(actualNft)).Distinct(StringComparer.Ordinal).Where(p => stored.All(b => b.PortDevice != p)))
            {
                reports.Add(new BindingDrift(orphan, null, BindingDriftStatus.Orphaned, [], [.. Footprint(actual, orphan), .. NftFootprint.Of(actualNft, orphan, out _)], []));
            }
        }
        foreach (var problem in problems)
        {
            reports.Add(new BindingDrift(problem.Source is { } s ? Path.GetFileNameWithoutExtension(s) : "?", null, BindingDriftStatus.Drifted, [], [], [problem with { Severity = DiagnosticSeverity.Warning }]));
        }
        return [.. reports.OrderBy(r => r.PortDevice, StringComparer.Ordinal).Select(r => r with { NetworkNamespace = NetworkNamespace })];
    }

    /// <summary>Applies the compiled bindings in a new scratch namespace, each by its backend, and reads the tables back.</summary>
    private async Task<(KernelState State, Dictionary<string, List<(string Block, List<string> Lines)>> Nft)> ExpectedStateAsync(
        List<(FilterBinding Binding, Ruleset Ruleset, FirewallPlan Plan)> compiled, CancellationToken cancellationToken)
    {
        await SweepScratchNamespacesAsync().ConfigureAwait(false);
        var name = string.Create(CultureInfo.InvariantCulture, $"{ScratchPrefix}{Environment.ProcessId}-{Random.Shared.Next():x8}");
        var add = await _options.Runner.RunAsync(new ProcessRequest(Host.NetworkNamespace.IpProgram, "netns", "add", name) { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken).ConfigureAwait(false);
        if (!add.Succeeded)
        {
            throw ApplyErrors.ToolFailed("creating a scratch network namespace to compute the expected rules", add, null, null);
        }
        try
        {
            var scratch = new NamespacedProcessRunner(_options.Runner, name);
            var eb = compiled.Where(c => c.Binding.Backend == FirewallBackendKind.EbIpTables).ToList();
            var nft = compiled.Where(c => c.Binding.Backend == FirewallBackendKind.Nftables).ToList();
            if (eb.Count > 0)
            {
                await new XtablesExecutor(scratch).ApplyAsync([.. eb.Select(c => (c.Binding.PortDevice, c.Plan))], cancellationToken).ConfigureAwait(false);
            }
            var nftListing = "";
            if (nft.Count > 0)
            {
                await new NftablesApplier(scratch).ApplyAsync([.. nft.Select(c => NftPortChange.Set(NftablesCompiler.Compile(c.Binding.PortDevice, c.Ruleset.Instances)))], cancellationToken)
                    .ConfigureAwait(false);
                nftListing = await ListNftAsync(scratch, required: true, cancellationToken).ConfigureAwait(false);
            }
            var state = eb.Count > 0 ? await KernelState.ReadAsync(scratch, new ProcessCounter(), cancellationToken).ConfigureAwait(false) : KernelState.Empty();
            return (state, NftFootprint.Parse(nftListing));
        }
        finally
        {
            await _options.Runner.RunAsync(new ProcessRequest(Host.NetworkNamespace.IpProgram, "netns", "delete", name) { Timeout = TimeSpan.FromSeconds(30) }, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>nft list ruleset</c> where <paramref name="runner"/> runs; when nft cannot run and nothing needs it, an empty
    /// listing (a host without nft has no nftables bindings).
    /// </summary>
    private static async Task<string> ListNftAsync(IProcessRunner runner, bool required, CancellationToken cancellationToken)
    {
        var request = new ProcessRequest(NftablesApplier.NftProgram, "list", "ruleset") { Timeout = TimeSpan.FromMinutes(2) };
        ProcessResult result;
        try
        {
            result = await runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!required && e is not OperationCanceledException)
        {
            return "";
        }
        if (!result.Succeeded)
        {
            if (!required)
            {
                return "";
            }
            throw ApplyErrors.ToolFailed("reading NwFilter's nftables tables", result, null, null);
        }
        return result.StandardOutput;
    }

    /// <summary>Deletes scratch namespaces whose creating process is gone.</summary>
    private async Task SweepScratchNamespacesAsync()
    {
        var list = await _options.Runner.RunAsync(new ProcessRequest(Host.NetworkNamespace.IpProgram, "netns", "list") { Timeout = TimeSpan.FromSeconds(30) }).ConfigureAwait(false);
        foreach (var line in list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (!name.StartsWith(ScratchPrefix, StringComparison.Ordinal))
            {
                continue;
            }
            var pid = name[ScratchPrefix.Length..].Split('-')[0];
            if (int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p != Environment.ProcessId && !Directory.Exists($"/proc/{p}"))
            {
                await _options.Runner.RunAsync(new ProcessRequest(Host.NetworkNamespace.IpProgram, "netns", "delete", name) { Timeout = TimeSpan.FromSeconds(30) }).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Everything of one port in the tables, in save format with the family in front: its links from the base chains,
    /// its libvirt-in-post rule, the base chains' hooks it relies on, and its chains with their rules.
    /// </summary>
    internal static List<string> Footprint(KernelState state, string port)
    {
        var lines = new List<string>();
        var eb = state.Ebtables;
        var roots = "IOJP".Select(p => ChainNames.EbRoot(p, port)).ToHashSet(StringComparer.Ordinal);
        foreach (var baseChain in new[] { ChainNames.PreRouting, ChainNames.PostRouting })
        {
            lines.AddRange(eb.RulesOf(baseChain).Where(r => r.Target is { } t && roots.Contains(t)).Select(r => $"ebtables: -A {baseChain} {r}"));
        }
        foreach (var chain in PortChains.EbtablesChains(eb, port, "IOJP"))
        {
            lines.Add($"ebtables: :{chain} {eb.Chain(chain)!.Policy}");
            lines.AddRange(eb.RulesOf(chain).Select(r => $"ebtables: -A {chain} {r}"));
        }
        foreach (var family in new[] { XtablesFamily.Iptables, XtablesFamily.Ip6tables })
        {
            var table = state.For(family);
            var tool = RestoreScript.ProgramName(family);
            var own = PortChains.IptablesChains(table, port).ToList();
            var links = new List<string>();
            foreach (var baseChain in new[] { ChainNames.VirtIn, ChainNames.VirtOut, ChainNames.HostIn })
            {
                links.AddRange(table.RulesOf(baseChain).Where(r => r.Target is { } t && own.Contains(t)).Select(r => $"{tool}: -A {baseChain} {r}"));
            }
            links.AddRange(table.RulesOf(ChainNames.VirtInPost).Where(r => PortChains.IsInPostRule(r, port)).Select(r => $"{tool}: -A {ChainNames.VirtInPost} {r}"));
            if (links.Count > 0 || own.Count > 0)
            {
                foreach (var (chain, parent, _) in ChainNames.BaseChains)
                {
                    lines.AddRange(table.RulesOf(parent).Where(r => r.Target == chain).Select(r => $"{tool}: -A {parent} {r}"));
                }
            }
            lines.AddRange(links);
            foreach (var chain in own)
            {
                lines.Add($"{tool}: :{chain}");
                lines.AddRange(table.RulesOf(chain).Select(r => $"{tool}: -A {chain} {r}"));
            }
        }
        return lines;
    }

    private static List<string> MultisetExcept(List<string> from, List<string> remove)
    {
        var counts = remove.GroupBy(l => l, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var line in from)
        {
            if (counts.TryGetValue(line, out var n) && n > 0)
            {
                counts[line] = n - 1;
            }
            else
            {
                result.Add(line);
            }
        }
        return result;
    }
}
