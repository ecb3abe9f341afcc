using System.Globalization;
using System.Text;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Xml;

/// <summary>
/// Writes the model as libvirt's canonical XML: byte for byte what <c>virsh nwfilter-dumpxml</c> and
/// <c>virsh nwfilter-binding-dumpxml</c> print (two-space indent, single quotes, a final newline). A rule's
/// attributes are printed in the protocol's table order, the non-negated ones in one element and the negated ones in a
/// second element with <c>match='no'</c> (libvirt's two-pass formatter).
/// </summary>
internal static class NwFilterXmlWriter
{
    /// <summary>The canonical <c>&lt;filter&gt;</c> document. A filter without a UUID is written without <c>&lt;uuid&gt;</c>.</summary>
    public static string Write(FilterDefinition filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var sb = new StringBuilder(256 + filter.Entries.Length * 160);
        Write(sb, filter);
        return sb.ToString();
    }

    /// <summary>Appends the canonical <c>&lt;filter&gt;</c> document to <paramref name="sb"/>.</summary>
    public static void Write(StringBuilder sb, FilterDefinition filter)
    {
        sb.Append("<filter name='");
        AppendEscaped(sb, filter.Name);
        sb.Append("' chain='");
        AppendEscaped(sb, filter.Chain);
        sb.Append('\'');
        if (filter.Priority != 0)
        {
            sb.Append(" priority='").Append(filter.Priority.ToString(CultureInfo.InvariantCulture)).Append('\'');
        }
        sb.Append(">\n");
        if (filter.Uuid is { } uuid)
        {
            sb.Append("  <uuid>").Append(uuid.ToString("D")).Append("</uuid>\n");
        }
        foreach (var entry in filter.Entries)
        {
            switch (entry)
            {
                case FilterRule rule:
                    WriteRule(sb, rule);
                    break;
                case FilterReference reference:
                    WriteReference(sb, "  ", reference.Filter, reference.Parameters);
                    break;
                default:
                    throw new ArgumentException($"Unknown filter entry type {entry.GetType().Name}", nameof(filter));
            }
        }
        sb.Append("</filter>\n");
    }

    /// <summary>The canonical <c>&lt;filterbinding&gt;</c> document.</summary>
    public static string Write(FilterBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var sb = new StringBuilder(384);
        sb.Append("<filterbinding>\n  <owner>\n    <name>");
        AppendEscaped(sb, binding.OwnerName);
        sb.Append("</name>\n    <uuid>").Append(binding.OwnerUuid.ToString("D")).Append("</uuid>\n  </owner>\n");
        sb.Append("  <portdev name='");
        AppendEscaped(sb, binding.PortDevice);
        sb.Append("'/>\n");
        if (binding.LinkDevice is { } link)
        {
            sb.Append("  <linkdev name='");
            AppendEscaped(sb, link);
            sb.Append("'/>\n");
        }
        sb.Append("  <mac address='").Append(TextParsers.FormatMac(binding.MacAddress.GetAddressBytes())).Append("'/>\n");
        WriteReference(sb, "  ", binding.Filter, binding.Parameters);
        if (binding.Backend == FirewallBackendKind.Nftables)
        {
            sb.Append("  <backend name='nftables'/>\n");
        }
        if (binding.Counters is { } counters)
        {
            sb.Append("  <").Append(BindingParser.CountersElement).Append(" xmlns:").Append(BindingParser.OwnPrefix).Append("='")
                .Append(BindingParser.OwnNamespace).Append("' enabled='").Append(counters ? "yes" : "no").Append("'/>\n");
        }
        sb.Append("</filterbinding>\n");
        return sb.ToString();
    }

    /// <summary>One rule's canonical <c>&lt;rule&gt;</c> element as it appears in a filter, without the filter's indent.</summary>
    public static string Write(FilterRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var sb = new StringBuilder(160);
        WriteRule(sb, rule);
        return sb.Replace("\n  ", "\n").ToString(2, sb.Length - 3);
    }

    private static void WriteRule(StringBuilder sb, FilterRule rule)
    {
        sb.Append("  <rule action='").Append(ActionName(rule.Action))
          .Append("' direction='").Append(DirectionName(rule.Direction))
          .Append("' priority='").Append(rule.Priority.ToString(CultureInfo.InvariantCulture)).Append('\'');
        if (!rule.StateMatch)
        {
            sb.Append(" statematch='false'");
        }
        if (rule.Protocol == ProtocolKind.None)
        {
            sb.Append("/>\n");
            return;
        }
        sb.Append(">\n");
        var schema = ProtocolSchema.Of(rule.Protocol);
        var negated = 0;
        var plain = 0;
        foreach (var a in rule.Attributes)
        {
            if (!a.Value.IsPresent)
            {
                continue;
            }
            if (a.Value.Negated)
            {
                negated++;
            }
            else
            {
                plain++;
            }
        }
        if (plain > 0 || negated == 0)
        {
            WriteProtocolElement(sb, schema, rule, negated: false);
        }
        if (negated > 0)
        {
            WriteProtocolElement(sb, schema, rule, negated: true);
        }
        sb.Append("  </rule>\n");
    }

    private static void WriteProtocolElement(StringBuilder sb, ProtocolSchema schema, FilterRule rule, bool negated)
    {
        sb.Append("    <").Append(schema.ElementName);
        if (negated)
        {
            sb.Append(" match='no'");
        }
        // Table order, whatever order the model holds them in.
        foreach (var spec in schema.Attributes)
        {
            var value = rule[spec.Id];
            if (!value.IsPresent || value.Negated != negated || IsImpliedIpSetFlags(schema, rule, spec.Id, value))
            {
                continue;
            }
            sb.Append(' ').Append(spec.Name).Append("='");
            if (value.Kind == AttributeValueKind.Variable)
            {
                AppendVariable(sb, value.Variable!);
            }
            else
            {
                AppendEscaped(sb, value.Literal!.Text);
            }
            sb.Append('\'');
        }
        sb.Append("/>\n");
    }

    /// <summary>
    /// Where the ipset fixup applies, libvirt prints the <c>ipsetflags='src'</c> its reader added to a lone ipset, and
    /// then refuses that very output when reading it back (a set given with flags is dropped): its own dump does not
    /// survive a daemon restart. We leave those implied flags out, so the canonical form reads back to the same rule,
    /// in libvirt as here.
    /// </summary>
    private static bool IsImpliedIpSetFlags(ProtocolSchema schema, FilterRule rule, AttributeId id, AttributeValue value) =>
        id == AttributeId.IpSetFlags && schema.IpSetFixup && rule[AttributeId.IpSet].IsPresent &&
        value.Kind == AttributeValueKind.Literal && value.Literal!.Text == "src" && !value.Negated;

    private static void AppendVariable(StringBuilder sb, VariableAccess v)
    {
        sb.Append('$').Append(v.Name);
        if (v.Kind == VariableAccessKind.Element)
        {
            sb.Append('[').Append(v.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
        }
        else if (v.Index != 0)
        {
            sb.Append("[@").Append(v.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
        }
    }

    private static void WriteReference(StringBuilder sb, string indent, string filter, ParameterSet parameters)
    {
        sb.Append(indent).Append("<filterref filter='");
        AppendEscaped(sb, filter);
        if (parameters.Count == 0)
        {
            sb.Append("'/>\n");
            return;
        }
        sb.Append("'>\n");
        foreach (var (name, values) in parameters)
        {
            foreach (var value in values)
            {
                sb.Append(indent).Append("  <parameter name='");
                AppendEscaped(sb, name);
                sb.Append("' value='");
                AppendEscaped(sb, value);
                sb.Append("'/>\n");
            }
        }
        sb.Append(indent).Append("</filterref>\n");
    }

    private static string ActionName(RuleAction action) => action switch
    {
        RuleAction.Drop => "drop",
        RuleAction.Accept => "accept",
        RuleAction.Reject => "reject",
        RuleAction.Return => "return",
        RuleAction.Continue => "continue",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };

    private static string DirectionName(RuleDirection direction) => direction switch
    {
        RuleDirection.In => "in",
        RuleDirection.Out => "out",
        RuleDirection.InOut => "inout",
        _ => throw new ArgumentOutOfRangeException(nameof(direction), direction, null),
    };

    /// <summary>
    /// libvirt's escaping of text and attribute values: <c>&amp; &lt; &gt; &apos; &quot;</c>. Tab, newline and carriage
    /// return (which can only arrive through character references) are written as character references, so that a
    /// re-read gives them back (libvirt writes them raw, and an XML parser turns them into spaces in attributes).
    /// Other control characters, which XML cannot carry, are dropped as libvirt does.
    /// </summary>
    internal static void AppendEscaped(StringBuilder sb, string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            string? esc = c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '\'' => "&apos;",
                '"' => "&quot;",
                '\t' => "&#9;",
                '\n' => "&#10;",
                '\r' => "&#13;",
                < ' ' => "",
                _ => null,
            };
            if (esc is null)
            {
                continue;
            }
            sb.Append(text, start, i - start).Append(esc);
            start = i + 1;
        }
        sb.Append(text, start, text.Length - start);
    }
}
