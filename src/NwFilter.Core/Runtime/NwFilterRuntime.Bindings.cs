using System.Collections.Immutable;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Runtime;

// The binding verbs: apply, remove, restore, status. Changes stream their item errors, warnings and learners to the
// host as they happen; the response is the summary. A query (status) answers in its response only.
public sealed partial class NwFilterRuntime
{
    /// <summary>Checks each binding (MAC, compile), asks the host, and applies the confirmed ones in one batch.</summary>
    public async Task<BindingsResponse> HandleAsync(ApplyBindingsRequest request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        var ns = Namespace(request.NetworkNamespace);
        var items = ImmutableArray.CreateBuilder<BindingResult>();
        BindingManager manager;
        try
        {
            // Before anything else (no manager, no lock, no tool): a namespace that does not exist is a typo.
            if (MissingNamespace(ns) is { } missing)
            {
                throw missing;
            }
            manager = Manager(ns);
        }
        catch (NwFilterException e)
        {
            foreach (var binding in request.Bindings)
            {
                items.Add(Refuse(host, new BindingResult(binding.PortDevice, binding, e)));
            }
            return new BindingsResponse(ns, items.ToImmutable(), [], null);
        }
        var confirmed = new List<FilterBinding>();
        FirewallSnapshot? snapshot = null;
        IReadOnlySet<string>? interfaces = null;
        var interfacesListed = false;
        Diagnostics.PhaseTimings.Mark("runtime: namespace and manager");
        var (bindings, refusedBackends) = await ChooseBackendsAsync(request.Bindings, ns, manager, host, cancellationToken).ConfigureAwait(false);
        items.AddRange(refusedBackends);
        Diagnostics.PhaseTimings.Mark("runtime: backend choice");
        // Each check's compile is kept for the apply (one compile per binding), valid while its filter tree is this text.
        var trees = manager.TreeTexts(bindings);
        foreach (var binding in bindings)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (binding.MacAddress.GetAddressBytes().Length != 6)
                {
                    throw new NwFilterException(Diagnostic.Error("InvalidMacAddress", "-MacAddress needs a MAC address such as 52:54:00:7b:35:93.", DiagnosticCategory.InvalidArgument));
                }
                manager.CheckCompiles(binding, trees);
                if (!interfacesListed)
                {
                    // With a held context, if_nametoindex of the request's ports in the namespace; else one listing.
                    interfaces = Options.InterfaceProbe is null && manager.HoldsNftablesContext
                        ? await manager.ExistingInterfacesAsync([.. bindings.Select(b => b.PortDevice)]).ConfigureAwait(false)
                        : null;
                    interfaces ??= await InterfacesAsync(ns, cancellationToken).ConfigureAwait(false);
                    interfacesListed = true;
                }
                if (interfaces is not null && !interfaces.Contains(binding.PortDevice))
                {
                    host.Report(RuntimeEvent.Warning(RuntimeChecks.PortMissing(binding.PortDevice, ns)) with { Target = binding.PortDevice, NetworkNamespace = ns });
                }
                var action = $"Apply filter '{binding.Filter}' ({MacAddressText.Format(binding.MacAddress)}{(binding.Parameters.Count > 0 ? ", " + binding.Parameters : "")})";
                var target = $"port {binding.PortDevice}{Where(ns)}";
                var question = new ConfirmationRequest(target, action)
                {
                    Description = $"{action} to {target}.",
                    Query = $"{action} to {target}?",
                    Plan = () => manager.PlanApply(snapshot ??= manager.ReadFirewallAsync(cancellationToken).GetAwaiter().GetResult(), [binding]).ToString(),
                };
                if (host.Confirm(question))
                {
                    confirmed.Add(binding);
                }
            }
            catch (NwFilterException e)
            {
                items.Add(Refuse(host, new BindingResult(binding.PortDevice, binding, e)));
            }
        }
        if (confirmed.Count == 0)
        {
            return new BindingsResponse(ns, items.ToImmutable(), [], null);
        }
        if (MissingPrivilege() is { } needsRoot)
        {
            items.AddRange(confirmed.Select(b => Refuse(host, new BindingResult(b.PortDevice, b, needsRoot))));
            return new BindingsResponse(ns, items.ToImmutable(), [], null);
        }
        Diagnostics.PhaseTimings.Mark("runtime: checks (compile, ports, confirm)");
        var result = await manager.ApplyAsync(confirmed, ProgressTo(host, "Applying network filter bindings"), cancellationToken).ConfigureAwait(false);
        Diagnostics.PhaseTimings.Mark("manager: bridge netfilter check");
        Stream(host, ns, result);
        Diagnostics.PhaseTimings.Mark("runtime: results streamed");
        host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, RuntimeEventIds.BindingsApplied,
            $"Applied {result.Items.Count(i => i.Succeeded)} of {result.Items.Length} bindings{Where(ns)}: " +
            $"{result.Execution.Transactions.Length} transactions, {result.Execution.ProcessLaunches} processes, {result.Execution.Elapsed.TotalMilliseconds:0} ms.") { NetworkNamespace = ns });
        items.AddRange(result.Items);
        return new BindingsResponse(ns, items.ToImmutable(), result.Warnings, result.Execution);
    }

    /// <summary>Asks the host about each port (the plan is the removal script so far), then removes the confirmed ones in one batch.</summary>
    public async Task<BindingsResponse> HandleAsync(RemoveBindingsRequest request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        var ns = Namespace(request.NetworkNamespace);
        var items = ImmutableArray.CreateBuilder<BindingResult>();
        BindingManager manager;
        try
        {
            if (MissingNamespace(ns) is { } missing)
            {
                throw missing;
            }
            manager = Manager(ns);
        }
        catch (NwFilterException e)
        {
            host.Report(RuntimeEvent.Failed(e, ns) with { NetworkNamespace = ns });
            items.AddRange(request.PortDevices.Select(p => new BindingResult(p, null, e)));
            return new BindingsResponse(ns, items.ToImmutable(), [], null);
        }
        var confirmed = new List<string>();
        foreach (var port in request.PortDevices)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var target = ns is null ? $"port {port}" : $"port {port} in network namespace {ns}";
            var question = new ConfirmationRequest(target, "Remove the binding and rules")
            {
                Description = $"Remove the binding and rules of {target}.",
                Query = $"Remove the binding and rules of {target}?",
                Plan = () => manager.PlanRemove(manager.ReadFirewallAsync(cancellationToken).GetAwaiter().GetResult(), [.. confirmed, port]).ToString(),
            };
            try
            {
                if (host.Confirm(question))
                {
                    confirmed.Add(port);
                }
            }
            catch (NwFilterException e)
            {
                items.Add(Refuse(host, new BindingResult(port, null, e)));
            }
        }
        if (confirmed.Count == 0)
        {
            return new BindingsResponse(ns, items.ToImmutable(), [], null);
        }
        if (MissingPrivilege() is { } needsRoot)
        {
            host.Report(RuntimeEvent.Failed(needsRoot, ns) with { NetworkNamespace = ns });
            items.AddRange(confirmed.Select(p => new BindingResult(p, null, needsRoot)));
            return new BindingsResponse(ns, items.ToImmutable(), [], null);
        }
        var result = await manager.RemoveAsync(confirmed, ProgressTo(host, "Removing network filter bindings"), cancellationToken).ConfigureAwait(false);
        Stream(host, ns, result);
        host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, RuntimeEventIds.BindingsRemoved,
            $"Removed {result.Items.Count(i => i.Succeeded)} of {result.Items.Length} bindings: {result.Execution.ProcessLaunches} processes, {result.Execution.Elapsed.TotalMilliseconds:0} ms.") { NetworkNamespace = ns });
        items.AddRange(result.Items);
        return new BindingsResponse(ns, items.ToImmutable(), result.Warnings, result.Execution);
    }

    /// <summary>
    /// Asks the host about each stored binding asked for, then re-applies them together; when every binding was asked
    /// for and allowed, chains of ports without a binding are removed too.
    /// </summary>
    public async Task<BindingsResponse> HandleAsync(RestoreBindingsRequest request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        var ns = Namespace(request.NetworkNamespace);
        BindingManager manager;
        try
        {
            if (MissingNamespace(ns) is { } missing)
            {
                throw missing;
            }
            manager = Manager(ns);
        }
        catch (NwFilterException e)
        {
            host.Report(RuntimeEvent.Failed(e, ns) with { NetworkNamespace = ns });
            return new BindingsResponse(ns, [.. (request.PortDevices ?? []).Select(p => new BindingResult(p, null, e))], [], null);
        }
        var all = request.PortDevices is null;
        var stored = manager.Store.List().Bindings;
        var selected = all ? stored : [.. stored.Where(b => request.PortDevices!.Contains(b.PortDevice, StringComparer.Ordinal))];
        var confirmed = new List<string>();
        foreach (var binding in selected)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (host.Confirm(new ConfirmationRequest($"port {binding.PortDevice}{Where(ns)}", $"Re-apply filter '{binding.Filter}'")))
            {
                confirmed.Add(binding.PortDevice);
            }
            else
            {
                all = false;
            }
        }
        if (!all)
        {
            // Ports asked for that have no binding are the manager's BindingNotFound results.
            confirmed.AddRange((request.PortDevices ?? []).Where(p => stored.All(b => b.PortDevice != p)));
            if (confirmed.Count == 0)
            {
                return new BindingsResponse(ns, [], [], null);
            }
        }
        if (MissingPrivilege() is { } needsRoot)
        {
            host.Report(RuntimeEvent.Failed(needsRoot, ns) with { NetworkNamespace = ns });
            return new BindingsResponse(ns, [.. confirmed.Select(p => new BindingResult(p, null, needsRoot))], [], null);
        }
        if (request.Backend == FirewallBackendKind.Nftables && await ProbeNftablesAsync(ns, manager, cancellationToken).ConfigureAwait(false) is { Usable: false } unusable)
        {
            var refusal = Backends.BackendSelection.Unavailable($"The bindings cannot move to the Nftables backend{Where(ns)}: it is unusable ({unusable.Reason}); nothing was changed.");
            host.Report(RuntimeEvent.Failed(refusal, ns) with { NetworkNamespace = ns });
            return new BindingsResponse(ns, [.. (all ? selected.Select(b => b.PortDevice) : confirmed).Select(p => new BindingResult(p, null, refusal))], [], null);
        }
        // What the kernel holds before the restore acts, so that it can say what it repaired (after a crash: a port
        // with another generation's rules or half-built chains; after a flush: none).
        var found = ImmutableArray<BindingDrift>.Empty;
        try
        {
            found = await manager.TestAsync(all ? null : confirmed, cancellationToken).ConfigureAwait(false);
        }
        catch (NwFilterException e)
        {
            host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, RuntimeEventIds.BindingRepaired,
                $"The firewall could not be compared with the store before the restore ({e.Message}); the bindings are re-applied without a report of what was found.") { NetworkNamespace = ns });
        }
        var result = await manager.RestoreAsync(all ? null : confirmed, ProgressTo(host, "Restoring network filter bindings"), cancellationToken, request.Backend).ConfigureAwait(false);
        Stream(host, ns, result);
        var repairs = Repairs(found, result, all);
        foreach (var repair in repairs)
        {
            host.Report(new RuntimeEvent(repair.Found == BindingDriftStatus.InSync && repair.Succeeded ? RuntimeEventLevel.Verbose : RuntimeEventLevel.Information,
                RuntimeEventIds.BindingRepaired, $"{repair}{Where(ns)}") { NetworkNamespace = ns });
        }
        return new BindingsResponse(ns, result.Items, result.Warnings, result.Execution) { Repairs = repairs };
    }

    /// <summary>Per port checked before a restore: what was found and what the restore did.</summary>
    private static ImmutableArray<BindingRepair> Repairs(ImmutableArray<BindingDrift> found, BindingBatchResult result, bool all)
    {
        var items = result.Items.ToDictionary(i => i.PortDevice, StringComparer.Ordinal);
        var repairs = ImmutableArray.CreateBuilder<BindingRepair>(found.Length);
        foreach (var drift in found)
        {
            string done;
            bool succeeded;
            if (drift.Status == BindingDriftStatus.Orphaned)
            {
                // Restoring all removes the chains of ports without a binding (a warning names what could not go).
                var removed = all && result.Warnings.Any(w => w.Code == "OrphanedRulesRemoved"
                    && System.Text.RegularExpressions.Regex.IsMatch(w.Message, $@"(?<=[ ,]){System.Text.RegularExpressions.Regex.Escape(drift.PortDevice)}(?=[,]| which)"));
                (done, succeeded) = removed ? ("removed its chains", true)
                    : all ? ("its chains could not be removed", false)
                    : ("left in place: only a restore of every binding removes chains without a binding", true);
            }
            else if (items.TryGetValue(drift.PortDevice, out var item))
            {
                (done, succeeded) = item.Succeeded
                    ? ($"re-applied filter '{drift.Filter}' ({item.Binding?.Backend}): its rules are in force", true)
                    : ($"re-applying failed, the kernel keeps what it held: {item.Error?.Message}", false);
            }
            else
            {
                continue;
            }
            repairs.Add(new BindingRepair(drift.PortDevice, drift.Filter, drift.Status, drift.MissingRules.Length, drift.UnexpectedRules.Length, done, succeeded));
        }
        return repairs.ToImmutable();
    }

    /// <summary>The stored bindings (all, or those of the ports asked for) with their learning status, and their drift when asked.</summary>
    public async Task<BindingStatusResponse> HandleAsync(BindingStatusRequest request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        var ns = Namespace(request.NetworkNamespace);
        BindingManager manager;
        ImmutableArray<FilterBinding> bindings;
        ImmutableArray<Diagnostic> problems;
        try
        {
            manager = Manager(ns);
            (bindings, problems) = manager.Store.List();
        }
        catch (NwFilterException e)
        {
            return new BindingStatusResponse(ns, [], [.. e.Diagnostics], []);
        }
        if (request.PortDevices is { } ports)
        {
            problems = problems.AddRange(ports.Where(p => bindings.All(b => b.PortDevice != p)).Select(p =>
                Diagnostic.Error(ApplyCodes.BindingNotFound, $"No binding for port device '{p}'" + (ns is null ? "." : $" in network namespace {ns}."),
                    DiagnosticCategory.ObjectNotFound) with { Value = p }));
            bindings = [.. bindings.Where(b => ports.Contains(b.PortDevice, StringComparer.Ordinal))];
        }
        var status = bindings.Select(b => new BindingStatus(b, manager.GetLearningStatus(b))).ToImmutableArray();
        var drift = ImmutableArray<BindingDrift>.Empty;
        var missingPorts = ImmutableArray<string>.Empty;
        if (request.TestDrift)
        {
            if (MissingNamespace(ns) is { } missing)
            {
                return new BindingStatusResponse(ns, status, problems.AddRange(missing.Diagnostics), drift);
            }
            drift = await manager.TestAsync(request.PortDevices is null ? null : [.. bindings.Select(b => b.PortDevice)], cancellationToken).ConfigureAwait(false);
            if (await InterfacesAsync(ns, cancellationToken).ConfigureAwait(false) is { } interfaces)
            {
                missingPorts = [.. bindings.Select(b => b.PortDevice).Where(p => !interfaces.Contains(p))];
            }
        }
        return new BindingStatusResponse(ns, status, problems, drift) { MissingPortDevices = missingPorts };
    }

    private static BindingResult Refuse(IRuntimeHost host, BindingResult item)
    {
        host.Report(RuntimeEvent.Failed(item.Error!, item.PortDevice));
        return item;
    }

    /// <summary>A batch's warnings, each item's error and each learner, to the host, in order.</summary>
    private static void Stream(IRuntimeHost host, string? ns, BindingBatchResult result)
    {
        foreach (var warning in result.Warnings)
        {
            host.Report(RuntimeEvent.Warning(warning) with { NetworkNamespace = ns });
        }
        foreach (var item in result.Items)
        {
            if (item.Error is { } error)
            {
                host.Report(RuntimeEvent.Failed(error, item.PortDevice) with { NetworkNamespace = ns });
            }
            if (item.Learner is { } learner)
            {
                host.LearnerStarted(new LearnerStarted(learner, ns));
            }
        }
    }

    /// <summary>The per-rule counters of a namespace's bindings (<see cref="BindingManager.StatisticsAsync"/>); reads the firewall (root).</summary>
    public async Task<BindingStatisticsResponse> HandleAsync(BindingStatisticsRequest request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        var ns = Namespace(request.NetworkNamespace);
        try
        {
            if (MissingNamespace(ns) is { } missing)
            {
                return new BindingStatisticsResponse(ns, [], [.. missing.Diagnostics]);
            }
            var manager = Manager(ns);
            var (rules, problems) = await manager.StatisticsAsync(request.PortDevices, request.Reset, cancellationToken).ConfigureAwait(false);
            return new BindingStatisticsResponse(ns, rules, problems);
        }
        catch (NwFilterException e)
        {
            return new BindingStatisticsResponse(ns, [], [.. e.Diagnostics]);
        }
    }
}
