using System.Collections.Immutable;
using System.Globalization;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
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
                var lines = Footprint(actual, binding.PortDevice);
                reports.Add(new BindingDrift(binding.PortDevice, binding.Filter, BindingDriftStatus.Drifted, [], [.. lines], [.. e.Diagnostics.Select(d => d with { Severity = DiagnosticSeverity.Warning })]));
            }
        }
        var expected = compiled.Count == 0 ? KernelState.Empty() : await ExpectedStateAsync(compiled, cancellationToken).ConfigureAwait(false);
        foreach (var (binding, ruleset, _) in compiled)
        {
            var want = Footprint(expected, binding.PortDevice);
            var have = Footprint(actual, binding.PortDevice);
            var missing = MultisetExcept(want, have);
            var unexpected = MultisetExcept(have, want);
            var status = !have.Any(l => l.Contains(": -A ", StringComparison.Ordinal)) && want.Count > 0 ? BindingDriftStatus.Missing
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
            foreach (var orphan in PortChains.PortsWithChains(actual).Where(p => stored.All(b => b.PortDevice != p)))
            {
                reports.Add(new BindingDrift(orphan, null, BindingDriftStatus.Orphaned, [], [.. Footprint(actual, orphan)], []));
            }
        }
        foreach (var problem in problems)
        {
            reports.Add(new BindingDrift(problem.Source is { } s ? Path.GetFileNameWithoutExtension(s) : "?", null, BindingDriftStatus.Drifted, [], [], [problem with { Severity = DiagnosticSeverity.Warning }]));
        }
        return [.. reports.OrderBy(r => r.PortDevice, StringComparer.Ordinal).Select(r => r with { NetworkNamespace = NetworkNamespace })];
    }

    /// <summary>Applies the compiled bindings in a new scratch namespace and reads the tables back.</summary>
    private async Task<KernelState> ExpectedStateAsync(List<(FilterBinding Binding, Ruleset Ruleset, FirewallPlan Plan)> compiled, CancellationToken cancellationToken)
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
            await new XtablesExecutor(scratch).ApplyAsync([.. compiled.Select(c => (c.Binding.PortDevice, c.Plan))], cancellationToken).ConfigureAwait(false);
            return await KernelState.ReadAsync(scratch, new ProcessCounter(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await _options.Runner.RunAsync(new ProcessRequest(Host.NetworkNamespace.IpProgram, "netns", "delete", name) { Timeout = TimeSpan.FromSeconds(30) }, CancellationToken.None).ConfigureAwait(false);
        }
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
