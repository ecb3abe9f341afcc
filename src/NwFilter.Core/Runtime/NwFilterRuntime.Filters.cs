using System.Collections.Immutable;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Store;

namespace NwFilter.Core.Runtime;

// The filter verbs: define and undefine, each followed by the re-application of the bindings that use what changed,
// as libvirt does when a filter is redefined: every binding of every network namespace whose filter tree includes a
// changed filter, in one go per namespace. If that fails, the filters are put back as they were (and namespaces
// already done are re-applied with them), so the store never says one thing while the firewall does another.
public sealed partial class NwFilterRuntime
{
    /// <summary>Defines the filters (all or none, or each alone), then re-applies the bindings that use the updated ones.</summary>
    public Task<DefineFiltersResponse> HandleAsync(DefineFiltersRequest request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        using var changing = FilterChange(); // until the bindings are re-applied: a drift check meanwhile is no verdict
        var previous = request.Filters.Select(f => Before(f.Name)).ToList();
        ImmutableArray<BatchItemResult> items;
        if (request.AllOrNothing)
        {
            try
            {
                items = [.. Filters.DefineAll(request.Filters, request.Expected, cancellationToken).Select((r, i) => new BatchItemResult(request.Filters[i], r, null))];
            }
            catch (NwFilterException e)
            {
                return Task.FromResult(new DefineFiltersResponse([.. request.Filters.Select(f => new BatchItemResult(f, null, e))], e));
            }
        }
        else
        {
            items = Filters.DefineMany(request.Filters, request.SkipUnchanged, cancellationToken);
        }
        var changes = items.Select((r, i) => (previous[i], r.Result)).Where(c => c.Result is not null).Select(c => (c.Item1, c.Result!)).ToList();
        var updated = changes.Where(c => c.Item2.Outcome == DefineOutcome.Updated && c.Item1 is not null).ToList();
        var failed = updated.Count == 0 ? null
            : Reinstantiate(host, [.. updated.Select(c => c.Item2.Filter.Name)], () => Revert(updated), cancellationToken);
        return Task.FromResult(new DefineFiltersResponse(items, failed));
    }

    /// <summary>Removes a defined filter; when that reveals a built-in filter, the bindings using it are re-applied (on failure the definition is put back).</summary>
    public Task<UndefineFilterResponse> HandleAsync(UndefineFilterRequest request, IRuntimeHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        using var changing = FilterChange();
        UndefineResult result;
        try
        {
            result = Filters.Undefine(request.Name, cancellationToken);
        }
        catch (NwFilterException e)
        {
            return Task.FromResult(new UndefineFilterResponse(null, e));
        }
        var failed = result.Revealed is null ? null
            : Reinstantiate(host, [result.Removed.Name], () => Unchecked().Define(result.Removed.Definition), cancellationToken);
        return Task.FromResult(new UndefineFilterResponse(result, failed));
    }

    /// <summary>The filter as it is before a define (null when it does not exist or cannot be read).</summary>
    private StoredFilter? Before(string name)
    {
        try
        {
            return Filters.Get(name);
        }
        catch (NwFilterException)
        {
            return null;
        }
    }

    private NwFilterException? Reinstantiate(IRuntimeHost host, List<string> names, Action revert, CancellationToken cancellationToken)
    {
        var done = new List<BindingManager>();
        foreach (var ns in NamespacesWithBindings())
        {
            var manager = Manager(ns);
            if (!manager.Store.List().Bindings.Any(b => BindingManager.Uses(Filters, b.Filter, names)))
            {
                continue;
            }
            if (!NamespaceExists(ns))
            {
                host.Report(new RuntimeEvent(RuntimeEventLevel.Warning, RuntimeEventIds.NamespaceGone,
                    $"Bindings that use {string.Join(", ", names)} are stored for network namespace {ns}, which does not exist any more; they were not re-applied.") { NetworkNamespace = ns });
                continue;
            }
            try
            {
                // A live update of many bindings shows where it stands (Write-Progress in PowerShell), per namespace.
                var result = manager.ReinstantiateAsync(Filters, names, ProgressTo(host, "Re-applying network filter bindings" + Where(ns)), cancellationToken).GetAwaiter().GetResult();
                foreach (var w in result.Warnings)
                {
                    host.Report(RuntimeEvent.Warning(w) with { NetworkNamespace = ns });
                }
                if (result.Items.Length > 0)
                {
                    // Information, not verbose: live bindings changed, and the one who changed the filter should see it.
                    var count = result.Items.Length;
                    host.Report(new RuntimeEvent(RuntimeEventLevel.Information, RuntimeEventIds.BindingsReapplied,
                        $"Re-applied {count} binding{(count == 1 ? "" : "s")}{Where(ns)}: {string.Join(", ", result.Items.Select(i => i.PortDevice))}.") { NetworkNamespace = ns });
                    done.Add(manager);
                }
            }
            catch (NwFilterException e)
            {
                revert();
                foreach (var previous in done)
                {
                    try
                    {
                        previous.ReinstantiateAsync(Filters, names, null, CancellationToken.None).GetAwaiter().GetResult();
                    }
                    catch (NwFilterException again)
                    {
                        host.Report(new RuntimeEvent(RuntimeEventLevel.Warning, RuntimeEventIds.ReapplyPreviousFailed,
                            $"Re-applying the previous filters{Where(previous.NetworkNamespace)} failed: {again.Message}") { NetworkNamespace = previous.NetworkNamespace });
                    }
                }
                var primary = e.Primary;
                return new NwFilterException(
                    e.Diagnostics.Select(d => ReferenceEquals(d, primary)
                        ? d with { Code = ApplyCodes.ReinstantiationFailed, Message = $"{d.Message} The filter change was undone: {string.Join(", ", names)} stay as they were." }
                        : d),
                    e);
            }
        }
        return null;
    }

    /// <summary>The same store without the in-use check: the bindings use these filters, and they are being put back.</summary>
    private FilterStore Unchecked() => new(Filters.Directory, Filters.Options with { BindingUsage = NoBindingUsage.Instance });

    private void Revert(List<(StoredFilter? Previous, DefineResult Result)> updated)
    {
        var store = Unchecked();
        foreach (var (previous, _) in updated)
        {
            if (previous!.Origin == FilterOrigin.BuiltIn)
            {
                store.Undefine(previous.Name);
            }
            else
            {
                store.Define(previous.Definition);
            }
        }
    }
}
