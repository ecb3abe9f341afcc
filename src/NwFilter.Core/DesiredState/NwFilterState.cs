using System.Collections.Immutable;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;

namespace NwFilter.Core.DesiredState;

// A host's NwFilter state as data (docs/design/state.md): what Get-NwFilterState reports, what a state document says
// and what Test-/Set-NwFilterState compare. Every member is a property of a plain type, so the objects keep their
// meaning after PowerShell remoting deserializes them.

/// <summary>A host's filters and bindings, or a desired state read from a document.</summary>
public sealed record NwFilterState
{
    /// <summary>The filters, by name (ordinal order).</summary>
    public ImmutableArray<FilterState> Filters { get; init; } = [];

    /// <summary>The bindings, by port device (ordinal order).</summary>
    public ImmutableArray<BindingState> Bindings { get; init; } = [];

    /// <summary>Where the bindings live and how a document's bindings are applied.</summary>
    public StateSettings Settings { get; init; } = StateSettings.Default;

    /// <summary>The SHA-256 of every filter's name and hash and every binding's hash (<see cref="StateHashes.OfState"/>).</summary>
    public string StateHash => StateHashes.OfState(this);
}

/// <summary>One filter: its name, the hash of its content, and its XML when known.</summary>
/// <param name="Name">The filter's name.</param>
/// <param name="Hash">SHA-256 of its canonical XML without the UUID (<see cref="StateHashes.OfFilter"/>).</param>
/// <param name="Xml">Its canonical XML without the UUID; null for a built-in on a host, or a hash-only document entry.</param>
public sealed record FilterState(string Name, string Hash, string? Xml)
{
    /// <summary>BuiltIn, Defined or Redefined on a host; null in a document.</summary>
    public string? Origin { get; init; }

    /// <summary>The filters it references, in document order (what a binding's closure follows).</summary>
    public ImmutableArray<string> References { get; init; } = [];

    /// <summary>The parsed filter (without UUID); null for a hash-only document entry.</summary>
    internal FilterDefinition? Definition { get; init; }
}

/// <summary>One binding: a filter tied to a port device.</summary>
/// <param name="PortDevice">The port device.</param>
/// <param name="MacAddress">The VM's MAC address, lower-case with colons.</param>
/// <param name="Filter">The top filter's name.</param>
public sealed record BindingState(string PortDevice, string MacAddress, string Filter)
{
    /// <summary>The parameters given to the filter.</summary>
    public ParameterSet Parameters { get; init; } = ParameterSet.Empty;

    /// <summary>The owner (VM) name.</summary>
    public string Owner { get; init; } = "";

    /// <summary>The owner (VM) UUID.</summary>
    public Guid OwnerUuid { get; init; }

    /// <summary>The link device (macvtap); null otherwise.</summary>
    public string? LinkDevice { get; init; }

    /// <summary>The firewall backend of the binding.</summary>
    public FirewallBackendKind Backend { get; init; }

    /// <summary>
    /// Per-rule counters (Get-NwFilterStatistic): true on, false off; null leaves them to the host (a document's binding
    /// that says nothing keeps the port's setting, as a binding without a backend keeps the port's backend; a new one
    /// gets the host's <c>counters</c> default).
    /// </summary>
    public bool? Counters { get; init; }

    /// <summary>SHA-256 of the binding's canonical XML (<see cref="StateHashes.OfBinding"/>).</summary>
    public string Hash { get; init; } = "";

    /// <summary>The binding as the runtime applies it.</summary>
    internal FilterBinding Binding { get; init; } = null!;
}

/// <summary>Settings of a state: whose bindings, and how a document's bindings are applied.</summary>
/// <param name="NetworkNamespace">The network namespace of the bindings; null: the host's own (or NWFILTER_NETNS).</param>
/// <param name="DefaultBackend">The backend of a document's binding that names none; null (<c>auto</c>, the default):
/// the host's default, as for Invoke-NwFilterBinding without -Backend (a port keeps its binding's backend, else
/// NWFILTER_BACKEND, nwfilter.conf, else nftables where usable; docs/design/nftables.md section 9).</param>
/// <param name="PruneBindings">Set removes the bindings the document does not list.</param>
public sealed record StateSettings(string? NetworkNamespace = null, FirewallBackendKind? DefaultBackend = null, bool PruneBindings = false)
{
    /// <summary>The host's own namespace, the host's default backend for bindings that name none, no pruning.</summary>
    public static StateSettings Default { get; } = new();
}
