using System.Management.Automation;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Store;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// Re-instantiates the bindings that use filters a cmdlet just changed (Set-, Edit-, Import-NwFilter), as libvirt does
/// when a filter is redefined: every binding of every network namespace whose filter tree includes a changed filter,
/// in one go per namespace. If that fails, the filters are put back as they were (and namespaces already done are
/// re-applied with them), so the store never says one thing while the firewall does another.
/// </summary>
internal static class FilterChangeHook
{
    /// <summary>The filter as it is before a define (null when it does not exist or cannot be read).</summary>
    public static StoredFilter? Before(FilterStore store, string name)
    {
        try
        {
            return store.Get(name);
        }
        catch (NwFilterException)
        {
            return null;
        }
    }

    /// <summary>
    /// After defines: re-instantiates what uses the updated filters. Returns null on success, or the error after the
    /// filters were put back.
    /// </summary>
    public static NwFilterException? After(PSCmdlet cmdlet, FilterStore store, IReadOnlyList<(StoredFilter? Previous, DefineResult Result)> changes, CancellationToken cancellationToken)
    {
        var updated = changes.Where(c => c.Result.Outcome == DefineOutcome.Updated && c.Previous is not null).ToList();
        return updated.Count == 0 ? null : Reinstantiate(cmdlet, store, [.. updated.Select(c => c.Result.Filter.Name)], () => Revert(store, updated), cancellationToken);
    }

    /// <summary>
    /// After a removal that revealed a built-in filter (the redefinition went): the bindings using it change too.
    /// On failure the redefinition is put back.
    /// </summary>
    public static NwFilterException? AfterRemove(PSCmdlet cmdlet, FilterStore store, UndefineResult result, CancellationToken cancellationToken) =>
        result.Revealed is null ? null : Reinstantiate(cmdlet, store, [result.Removed.Name], () => Unchecked(store).Define(result.Removed.Definition), cancellationToken);

    private static NwFilterException? Reinstantiate(PSCmdlet cmdlet, FilterStore store, List<string> names, Action revert, CancellationToken cancellationToken)
    {
        var done = new List<BindingManager>();
        foreach (var ns in BindingAccess.NamespacesWithBindings())
        {
            var bindings = BindingStore.Open(StoreLocation.Resolve(), ns);
            if (!bindings.List().Bindings.Any(b => BindingManager.Uses(store, b.Filter, names)))
            {
                continue;
            }
            if (ns is not null && !File.Exists(Path.Combine("/run/netns", ns)))
            {
                cmdlet.WriteWarning($"Bindings that use {string.Join(", ", names)} are stored for network namespace {ns}, which does not exist any more; they were not re-applied.");
                continue;
            }
            var manager = new BindingManager(new BindingManagerOptions
            {
                NetworkNamespace = ns,
                Filters = store,
                Store = bindings,
                Learners = BindingAccess.Learners(ns),
            });
            try
            {
                var result = manager.ReinstantiateAsync(store, names, null, cancellationToken).GetAwaiter().GetResult();
                foreach (var w in result.Warnings)
                {
                    cmdlet.WriteWarning(w.ToString());
                }
                if (result.Items.Length > 0)
                {
                    cmdlet.WriteVerbose($"Re-applied {result.Items.Length} binding(s){(ns is null ? "" : " in network namespace " + ns)}: {string.Join(", ", result.Items.Select(i => i.PortDevice))}.");
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
                        previous.ReinstantiateAsync(store, names, null, CancellationToken.None).GetAwaiter().GetResult();
                    }
                    catch (NwFilterException again)
                    {
                        cmdlet.WriteWarning($"Re-applying the previous filters{(previous.NetworkNamespace is null ? "" : " in network namespace " + previous.NetworkNamespace)} failed: {again.Message}");
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
    private static FilterStore Unchecked(FilterStore store) => new(store.Directory, store.Options with { BindingUsage = NoBindingUsage.Instance });

    private static void Revert(FilterStore store, List<(StoredFilter? Previous, DefineResult Result)> updated)
    {
        var unchecked_ = Unchecked(store);
        foreach (var (previous, _) in updated)
        {
            if (previous!.Origin == FilterOrigin.BuiltIn)
            {
                unchecked_.Undefine(previous.Name);
            }
            else
            {
                unchecked_.Define(previous.Definition);
            }
        }
    }
}
