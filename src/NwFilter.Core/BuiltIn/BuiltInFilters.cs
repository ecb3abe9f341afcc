using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Reflection;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.BuiltIn;

/// <summary>
/// NwFilter's built-in filters: our own definitions of the 24 filters libvirt ships (<c>clean-traffic</c> and the
/// filters it is made of, the DHCP and multicast helpers), with the same names and the same rules. They are part of
/// every store without an install step. Like libvirt's, they are ordinary filters: defining a filter with the same name
/// shadows the built-in one, and removing that definition makes the built-in visible again.
/// Beyond those, NwFilter ships filters of its own, named <c>nwfilter-...</c> (IPv6 anti-spoofing, an RA guard, a
/// DHCPv6 server guard and <c>nwfilter-clean-traffic-dual-stack</c>).
/// Each has a fixed uuid, derived from its name (<see cref="NameBasedUuid"/>), so it is the same on every host.
/// </summary>
internal static class BuiltInFilters
{
    private const string ResourcePrefix = "NwFilter.Core.BuiltIn.";

    private static readonly Lazy<FrozenDictionary<string, FilterDefinition>> Filters = new(Load);

    /// <summary>The built-in filters' names, sorted (ordinal).</summary>
    public static ImmutableArray<string> Names { get; } =
    [
        .. typeof(BuiltInFilters).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".xml", StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..^".xml".Length])
            .Order(StringComparer.Ordinal),
    ];

    /// <summary>The name prefix of the built-in filters that are NwFilter's own, beyond the 24 libvirt ships.</summary>
    public const string OwnPrefix = "nwfilter-";

    /// <summary>The names of the built-in filters libvirt also ships (every name without <see cref="OwnPrefix"/>), sorted.</summary>
    public static ImmutableArray<string> LibvirtNames { get; } =
        [.. Names.Where(n => !n.StartsWith(OwnPrefix, StringComparison.Ordinal))];

    /// <summary>The names of NwFilter's own built-in filters (<see cref="OwnPrefix"/>), sorted.</summary>
    public static ImmutableArray<string> OwnNames { get; } =
        [.. Names.Where(n => n.StartsWith(OwnPrefix, StringComparison.Ordinal))];

    /// <summary>Every built-in filter, sorted by name.</summary>
    public static IEnumerable<FilterDefinition> All => Names.Select(n => Filters.Value[n]);

    /// <summary>
    /// The uuid of a filter that has none (a built-in without one, a stored file without one): derived from its name in
    /// <see cref="NameBasedUuid.BuiltInFilterNamespace"/>, so it is the same on every host.
    /// </summary>
    public static Guid DefaultUuid(string name) => NameBasedUuid.Create(NameBasedUuid.BuiltInFilterNamespace, name);

    /// <summary>True when <paramref name="name"/> is a built-in filter's name.</summary>
    public static bool Contains(string name) => Names.Contains(name, StringComparer.Ordinal);

    /// <summary>The built-in filter called <paramref name="name"/>, or null.</summary>
    public static FilterDefinition? Find(string name) =>
        Contains(name) ? Filters.Value[name] : null;

    /// <summary>Our XML source of a built-in filter (with its comments), or null.</summary>
    public static string? GetSource(string name)
    {
        if (!Contains(name))
        {
            return null;
        }
        using var stream = typeof(BuiltInFilters).Assembly.GetManifestResourceStream(ResourcePrefix + name + ".xml")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static FrozenDictionary<string, FilterDefinition> Load()
    {
        var result = new Dictionary<string, FilterDefinition>(StringComparer.Ordinal);
        foreach (var name in Names)
        {
            FilterDefinition filter;
            try
            {
                filter = NwFilterXmlReader.ReadFilter(GetSource(name)!, new XmlReadOptions { SourceName = $"built-in:{name}.xml" }).Value;
            }
            catch (NwFilterException e)
            {
                throw new InvalidOperationException($"The built-in filter '{name}' does not parse: {e.Message}", e);
            }
            if (filter.Name != name)
            {
                throw new InvalidOperationException($"The built-in filter resource '{name}.xml' defines '{filter.Name}'.");
            }
            result[name] = filter with { Uuid = filter.Uuid ?? DefaultUuid(name) };
        }
        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
