using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Commands.Output;

/// <summary>
/// Short text forms of filter entries and parameters for the format and type views (formats/): the model types do not
/// print themselves, these readers of the model do.
/// </summary>
public static class RuleText
{
    /// <summary>The protocol's element name (<c>tcp-ipv6</c>), or empty for a rule without one.</summary>
    public static string Protocol(FilterRule rule) =>
        rule.Protocol == ProtocolKind.None ? "" : ProtocolSchema.Of(rule.Protocol).ElementName;

    /// <summary>The attributes as <c>name=value</c> in table order; a negated one starts with <c>!</c>.</summary>
    public static string Attributes(FilterRule rule)
    {
        if (rule.Protocol == ProtocolKind.None)
        {
            return "";
        }
        var schema = ProtocolSchema.Of(rule.Protocol);
        return string.Join(" ", rule.Attributes.Select(a =>
            $"{(a.Value.Negated ? "!" : "")}{schema.Find(a.Id)?.Name ?? a.Id.ToString()}={Quote(a.Value.Text)}"));
    }

    /// <summary>
    /// A rule on one line, in the order one says it: <c>accept in tcp dstportstart=22 priority=500</c> (action,
    /// direction, protocol, attributes, priority; <c>statematch=false</c> when the rule asks for it).
    /// </summary>
    public static string Rule(FilterRule rule)
    {
        var parts = new List<string>(6)
        {
            rule.Action.ToString().ToLowerInvariant(),
            rule.Direction.ToString().ToLowerInvariant(),
        };
        if (Protocol(rule) is { Length: > 0 } protocol)
        {
            parts.Add(protocol);
        }
        if (Attributes(rule) is { Length: > 0 } attributes)
        {
            parts.Add(attributes);
        }
        if (!rule.StateMatch)
        {
            parts.Add("statematch=false");
        }
        parts.Add($"priority={rule.Priority}");
        return string.Join(" ", parts);
    }

    /// <summary>A reference on one line: <c>filterref clean-traffic IP=10.0.0.5</c>.</summary>
    public static string Reference(FilterReference reference) =>
        reference.Parameters.Count == 0 ? $"filterref {reference.Filter}" : $"filterref {reference.Filter} {Parameters(reference.Parameters)}";

    /// <summary>An entry of a filter: a rule or a reference, on one line.</summary>
    public static string Entry(FilterEntry entry) => entry switch
    {
        FilterRule rule => Rule(rule),
        FilterReference reference => Reference(reference),
        _ => entry.GetType().Name,
    };

    /// <summary>
    /// Parameters as one writes them in a hashtable: <c>IP=10.0.0.1, 10.0.0.2; DHCPSERVER=10.0.0.1</c> (a list's values
    /// joined by commas, the parameters by semicolons).
    /// </summary>
    public static string Parameters(ParameterSet parameters) =>
        string.Join("; ", parameters.Select(p => $"{p.Key}={string.Join(", ", p.Value)}"));

    /// <summary>One attribute as <c>name=value</c> (<c>!</c> first when negated), named as in the filter XML.</summary>
    public static string Attribute(RuleAttribute attribute) =>
        $"{(attribute.Value.Negated ? "!" : "")}{AttributeNames.GetValueOrDefault(attribute.Id, attribute.Id.ToString())}={Quote(attribute.Value.Text)}";

    // An attribute's XML name does not depend on its protocol: the first schema that has the id names it.
    private static readonly Dictionary<AttributeId, string> AttributeNames = ProtocolSchema.All.Values
        .SelectMany(p => p.Attributes)
        .GroupBy(a => a.Id)
        .ToDictionary(g => g.Key, g => g.First().Name);

    private static string Quote(string text) =>
        text.Length == 0 || text.Any(char.IsWhiteSpace) ? $"'{text}'" : text;
}
