using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Model;

namespace NwFilter.Core.Apply;

public sealed partial class BindingManager
{
    /// <summary>The prefix of the scratch namespaces the drift test makes (and deletes).</summary>
    public const string ScratchPrefix = "nwfilter-scratch-";

    /// <summary>The expected lines of a port, by <see cref="DriftKey"/> (see <see cref="ExpectedLinesAsync"/>).</summary>
    private readonly ConcurrentDictionary<string, List<string>> _expectedLines = new(StringComparer.Ordinal);

    /// <summary>
    /// Compares what the kernel holds with what the stored bindings need (all, or those of
    /// <paramref name="portDevices"/>). The expected rules are made by applying the bindings in a scratch network
    /// namespace and reading them back with the same save tools, so both sides are in the tools' own words; they are
    /// remembered per compiled plan (<see cref="ExpectedLinesAsync"/>), so a repeat check of unchanged bindings reads each
    /// backend's rules once and compares in memory. Ports with
    /// NwFilter chains but no binding are reported as <see cref="BindingDriftStatus.Orphaned"/> (when checking all).
    /// </summary>
    public Task<ImmutableArray<BindingDrift>> TestAsync(IReadOnlyCollection<string>? portDevices = null, CancellationToken cancellationToken = default) =>
        TestAsync(portDevices, lockStore: false, cancellationToken);

    /// <summary>
    /// <see cref="TestAsync(IReadOnlyCollection{string}?, CancellationToken)"/>; with <paramref name="lockStore"/> the
    /// bindings and the kernel's rules are read under the store's writers' lock, so no apply of this or another process
    /// is half done in what is read (an EbIpTables apply passes through temporary chain names). The drift repair reads
    /// this way: a check that sees an apply in flight would re-apply a binding that was fine.
    /// </summary>
    internal async Task<ImmutableArray<BindingDrift>> TestAsync(IReadOnlyCollection<string>? portDevices, bool lockStore, CancellationToken cancellationToken)
    {
        var held = lockStore ? Store.Lock(_options.LockTimeout, cancellationToken) : null;
        List<Task<IBackendFootprint>> reads;
        ImmutableArray<FilterBinding> stored, selected;
        ImmutableArray<Diagnostic> problems;
        try
        {
            (stored, problems) = Store.List();
            selected = portDevices is null ? stored : [.. stored.Where(b => portDevices.Contains(b.PortDevice))];
            // Each backend's rules as the kernel holds them (a backend no checked binding uses may be missing its tools),
            // read while the bindings compile: the reads wait mostly on the tools, the compile is this process's CPU.
            var chosen = selected;
            reads = FirewallBackends.All
                .Select(backend => Task.Run(() => backend.ReadFootprintAsync(HostRunner, chosen.Any(b => b.Backend == backend.Kind), cancellationToken), cancellationToken))
                .ToList();
            if (held is not null)
            {
                await Task.WhenAll(reads).ConfigureAwait(false);
            }
        }
        finally
        {
            held?.Dispose();
        }
        var probe = BridgeNetfilterStatus.ProbeAsync(HostRunner, cancellationToken);

        var compiled = new List<PreparedBinding>();
        var failed = new List<(FilterBinding Binding, NwFilterException Error)>();
        foreach (var binding in selected)
        {
            try
            {
                compiled.Add(Prepare(binding));
            }
            catch (NwFilterException e)
            {
                failed.Add((binding, e));
            }
        }
        var expected = await ExpectedLinesAsync(compiled, cancellationToken).ConfigureAwait(false);
        var actual = (await Task.WhenAll(reads).ConfigureAwait(false)).ToList();
        var bridge = await probe.ConfigureAwait(false);
        var reports = new List<BindingDrift>();
        foreach (var (binding, e) in failed)
        {
            var lines = actual.SelectMany(f => f.Of(binding.PortDevice, out _));
            reports.Add(new BindingDrift(binding.PortDevice, binding.Filter, BindingDriftStatus.Drifted, [], [.. lines], [.. e.Diagnostics.Select(d => d with { Severity = DiagnosticSeverity.Warning })]));
        }
        foreach (var prepared in compiled)
        {
            var (binding, ruleset) = (prepared.Binding, prepared.Ruleset);
            // The binding's own backend's lines first; its rules in another backend are unexpected (left over from a backend change).
            var own = FirewallBackends.Order(prepared.Backend);
            var want = expected[binding.PortDevice];
            var have = actual[own].Of(binding.PortDevice, out var present);
            for (var i = 0; i < actual.Count; i++)
            {
                if (i != own)
                {
                    have.AddRange(actual[i].Of(binding.PortDevice, out _));
                }
            }
            var missing = MultisetExcept(want, have);
            var unexpected = MultisetExcept(have, want);
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
            foreach (var orphan in actual.SelectMany(f => f.Ports()).Distinct(StringComparer.Ordinal).Where(p => stored.All(b => b.PortDevice != p)))
            {
                reports.Add(new BindingDrift(orphan, null, BindingDriftStatus.Orphaned, [], [.. actual.SelectMany(f => f.Of(orphan, out _))], []));
            }
        }
        foreach (var problem in problems)
        {
            reports.Add(new BindingDrift(problem.Source is { } s ? Path.GetFileNameWithoutExtension(s) : "?", null, BindingDriftStatus.Drifted, [], [], [problem with { Severity = DiagnosticSeverity.Warning }]));
        }
        return [.. reports.OrderBy(r => r.PortDevice, StringComparer.Ordinal).Select(r => r with { NetworkNamespace = NetworkNamespace })];
    }

    /// <summary>
    /// The lines each compiled binding's port must have in its backend, by port. A port's expected lines depend only on
    /// its compiled plan (and on the tools, fixed for the process): they are remembered under the SHA-256 of the plan's
    /// transactions on an empty firewall, so a check applies in the scratch namespace only the bindings whose plan it has
    /// not seen (all of them the first time, none on a repeat check of unchanged bindings: then a check is one read of
    /// the kernel's rules per backend, compared in memory). What the manager remembers is what the tools printed for that
    /// very plan, so it cannot hide drift: the kernel's side is read afresh every time.
    /// </summary>
    private async Task<Dictionary<string, List<string>>> ExpectedLinesAsync(List<PreparedBinding> compiled, CancellationToken cancellationToken)
    {
        var keys = compiled.Select(DriftKey).ToList();
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var unknown = new List<(PreparedBinding Prepared, string Key)>();
        for (var i = 0; i < compiled.Count; i++)
        {
            if (_expectedLines.TryGetValue(keys[i], out var lines))
            {
                result[compiled[i].Binding.PortDevice] = lines;
            }
            else
            {
                unknown.Add((compiled[i], keys[i]));
            }
        }
        if (unknown.Count > 0)
        {
            var footprints = await ExpectedAsync([.. unknown.Select(u => u.Prepared)], cancellationToken).ConfigureAwait(false);
            foreach (var (prepared, key) in unknown)
            {
                var lines = footprints[FirewallBackends.Order(prepared.Backend)].Of(prepared.Binding.PortDevice, out _);
                result[prepared.Binding.PortDevice] = lines;
                _expectedLines[key] = lines;
            }
        }
        // Forget plans no binding has any more (bounded by the bindings' count; a check of some ports keeps the rest).
        if (_expectedLines.Count > 2 * Math.Max(compiled.Count, 64))
        {
            var live = keys.ToHashSet(StringComparer.Ordinal);
            foreach (var key in _expectedLines.Keys.Where(k => !live.Contains(k)).ToList())
            {
                _expectedLines.TryRemove(key, out _);
            }
        }
        return result;
    }

    /// <summary>Forgets every remembered expectation: the next check applies its bindings in a scratch namespace again.</summary>
    internal void ForgetExpectedRules() => _expectedLines.Clear();

    /// <summary>What identifies a binding's expected rules: its backend and its plan's transactions on an empty firewall.</summary>
    private static string DriftKey(PreparedBinding prepared)
    {
        var text = new StringBuilder(prepared.Backend.Name).Append('\n');
        foreach (var t in prepared.Backend.PlanApply(prepared.Backend.EmptyState, [prepared.Plan], [], false))
        {
            text.Append(t.Program).Append(' ').AppendJoin(' ', t.Arguments).Append('\n').Append(t.Input).Append('\n');
        }
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// Applies the compiled bindings in a new scratch namespace, each by its backend, and reads every backend's rules back
    /// (in the order of <see cref="FirewallBackends.All"/>; a backend with no binding reads as empty).
    /// </summary>
    private async Task<List<IBackendFootprint>> ExpectedAsync(List<PreparedBinding> compiled, CancellationToken cancellationToken)
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
            var used = new List<bool>(FirewallBackends.All.Count);
            foreach (var backend in FirewallBackends.All)
            {
                var plans = compiled.Where(c => c.Backend == backend).Select(c => c.Plan).ToList();
                used.Add(plans.Count > 0);
                if (plans.Count > 0)
                {
                    await backend.ApplyAsync(scratch, plans, [], false, null, null, cancellationToken).ConfigureAwait(false);
                }
            }
            var footprints = new List<IBackendFootprint>(FirewallBackends.All.Count);
            for (var i = 0; i < FirewallBackends.All.Count; i++)
            {
                var backend = FirewallBackends.All[i];
                footprints.Add(used[i] ? await backend.ReadFootprintAsync(scratch, required: true, cancellationToken).ConfigureAwait(false) : backend.EmptyFootprint);
            }
            return footprints;
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
