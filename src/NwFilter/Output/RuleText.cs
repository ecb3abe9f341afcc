using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Commands.Output;

/// <summary>Short text forms of rules for the format views.</summary>
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
            $"{(a.Value.Negated ? "!" : "")}{schema.Find(a.Id)?.Name ?? a.Id.ToString()}={a.Value.Text}"));
    }
}
