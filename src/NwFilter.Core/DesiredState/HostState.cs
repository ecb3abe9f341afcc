using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;

namespace NwFilter.Core.DesiredState;

/// <summary>A host's state as the runtime's stores hold it, and the files that could not be read.</summary>
/// <param name="State">The state.</param>
/// <param name="Problems">Unreadable filter and binding files (left out of <paramref name="State"/>).</param>
public sealed record HostStateSnapshot(NwFilterState State, ImmutableArray<Diagnostic> Problems);

/// <summary>Reads a host's state from a runtime (docs/design/state.md); reads only, never changes anything.</summary>
public static class HostState
{
    /// <summary>Every filter (built-ins included, their XML left out) and every binding of <paramref name="networkNamespace"/>.</summary>
    public static async Task<HostStateSnapshot> ReadAsync(NwFilterRuntime runtime, string? networkNamespace, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var listing = runtime.Filters.List();
        var status = await runtime.HandleAsync(new BindingStatusRequest(null, networkNamespace), SilentRuntimeHost.Instance, cancellationToken).ConfigureAwait(false);
        var state = new NwFilterState
        {
            Filters = [.. listing.Filters.Select(FromStored)],
            Bindings = [.. status.Bindings.Select(b => FromBinding(b.Binding)).OrderBy(b => b.PortDevice, StringComparer.Ordinal)],
            Settings = StateSettings.Default with { NetworkNamespace = runtime.Namespace(networkNamespace) },
        };
        return new HostStateSnapshot(state, [.. listing.Problems, .. status.Problems]);
    }

    /// <summary>A stored filter as state: a built-in's XML is left out (the module ships it; its hash says which).</summary>
    public static FilterState FromStored(StoredFilter stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var state = FromDefinition(stored.Definition) with { Origin = stored.Origin.ToString() };
        return stored.IsBuiltIn ? state with { Xml = null } : state;
    }

    /// <summary>A filter as state, with its canonical XML without UUID.</summary>
    public static FilterState FromDefinition(FilterDefinition filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var definition = StateHashes.WithoutUuid(filter);
        var xml = Xml.NwFilterXmlWriter.Write(definition);
        return new FilterState(filter.Name, StateHashes.Sha256(xml), xml)
        {
            References = [.. filter.References.Select(r => r.Filter)],
            Definition = definition,
        };
    }

    /// <summary>A binding as state.</summary>
    public static BindingState FromBinding(FilterBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        return new BindingState(binding.PortDevice, MacAddressText.Format(binding.MacAddress), binding.Filter)
        {
            Parameters = binding.Parameters,
            Owner = binding.OwnerName,
            OwnerUuid = binding.OwnerUuid,
            LinkDevice = binding.LinkDevice,
            Backend = binding.Backend,
            Counters = binding.Counters,
            Hash = StateHashes.OfBinding(binding),
            Binding = binding,
        };
    }
}
