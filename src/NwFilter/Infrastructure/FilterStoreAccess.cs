using System.Management.Automation;
using NwFilter.Core.Store;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// How the filter cmdlets reach the store: the location is resolved on every call (NWFILTER_CONFIG_DIR may change
/// between commands), and the binding-usage hook is the one the binding store registers.
/// </summary>
internal static class FilterStoreAccess
{
    /// <summary>Which bindings use a filter: those stored under the state directory, in every network namespace.</summary>
    internal static IBindingUsage BindingUsage { get; set; } = new StateDirectoryBindingUsage();

    /// <summary>The current user's filter store.</summary>
    internal static FilterStore Open() =>
        new(StoreLocation.Resolve().FilterDirectory, new FilterStoreOptions { BindingUsage = BindingUsage });

    /// <summary>A wildcard pattern for filter names (case-sensitive, as filter names are).</summary>
    internal static WildcardPattern Pattern(string name) => WildcardPattern.Get(name, WildcardOptions.CultureInvariant);

    /// <summary>Wraps a filter for output with its origin (BuiltIn, Defined, Redefined) as a note property.</summary>
    internal static PSObject ForOutput(StoredFilter filter)
    {
        // A fresh wrapper per output: the note lives on this wrapper, never on the shared immutable object.
        var o = new PSObject(filter.Definition);
        o.Properties.Add(new PSNoteProperty("Origin", filter.Origin));
        return o;
    }
}
