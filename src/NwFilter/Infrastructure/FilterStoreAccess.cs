using System.Management.Automation;
using NwFilter.Core.Store;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// How the filter cmdlets reach the store: the runtime's (<see cref="RuntimeSessions"/>), whose location is resolved on
/// every call (NWFILTER_CONFIG_DIR may change between commands) and whose in-use check sees every namespace's bindings.
/// </summary>
internal static class FilterStoreAccess
{
    /// <summary>The current user's filter store.</summary>
    internal static FilterStore Open() => RuntimeSessions.Current.Filters;

    /// <summary>Wraps a filter for output with its origin (BuiltIn, Defined, Redefined) as a note property.</summary>
    internal static PSObject ForOutput(StoredFilter filter)
    {
        // A fresh wrapper per output: the note lives on this wrapper, never on the shared immutable object.
        var o = new PSObject(filter.Definition);
        o.Properties.Add(new PSNoteProperty("Origin", filter.Origin));
        return o;
    }
}
