namespace NwFilter.Core.Store;

/// <summary>
/// Tells the filter store which bindings use a filter, so that removing a filter a binding needs is refused (libvirt:
/// "nwfilter is in use"). The binding store implements it; <see cref="NoBindingUsage"/> says "none".
/// </summary>
public interface IBindingUsage
{
    /// <summary>
    /// The bindings (by port device) whose top filter is <paramref name="filterName"/>. The store asks about the filter
    /// being removed and about every filter that references it, directly or not.
    /// </summary>
    IReadOnlyList<string> FindBindingsUsing(string filterName);
}

/// <summary>No binding uses any filter.</summary>
internal sealed class NoBindingUsage : IBindingUsage
{
    public static NoBindingUsage Instance { get; } = new();

    private NoBindingUsage()
    {
    }

    public IReadOnlyList<string> FindBindingsUsing(string filterName) => [];
}
