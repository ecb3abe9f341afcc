using System.Security.Cryptography;
using System.Text;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.DesiredState;

/// <summary>
/// Content hashes that compare across hosts (docs/design/state.md): a filter's is the SHA-256 of its canonical XML
/// (NwFilterXmlWriter) without the UUID, since the same XML defined on three hosts gets three UUIDs; a binding's is
/// the SHA-256 of its canonical binding XML; a state's covers every filter's name and hash and every binding's hash.
/// </summary>
public static class StateHashes
{
    /// <summary>The filter without its UUID, as hashed and compared.</summary>
    public static FilterDefinition WithoutUuid(FilterDefinition filter) => filter.Uuid is null ? filter : filter with { Uuid = null };

    /// <summary>The canonical XML of <paramref name="filter"/> without its UUID.</summary>
    public static string CanonicalXml(FilterDefinition filter) => NwFilterXmlWriter.Write(WithoutUuid(filter));

    /// <summary>The content hash of <paramref name="filter"/>: lower-case hex SHA-256 of <see cref="CanonicalXml"/>.</summary>
    public static string OfFilter(FilterDefinition filter) => Sha256(CanonicalXml(filter));

    /// <summary>The hash of <paramref name="binding"/>'s canonical XML.</summary>
    public static string OfBinding(FilterBinding binding) => Sha256(NwFilterXmlWriter.Write(binding));

    /// <summary>The hash of a whole state: one line per filter (name, hash) and per binding (port, hash), in ordinal order.</summary>
    public static string OfState(NwFilterState state)
    {
        var sb = new StringBuilder();
        foreach (var f in state.Filters.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            sb.Append("filter ").Append(f.Name).Append(' ').Append(f.Hash).Append('\n');
        }
        foreach (var b in state.Bindings.OrderBy(b => b.PortDevice, StringComparer.Ordinal))
        {
            sb.Append("binding ").Append(b.PortDevice).Append(' ').Append(b.Hash).Append('\n');
        }
        return Sha256(sb.ToString());
    }

    internal static string Sha256(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
}
