using System.Collections.Immutable;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;
using static NwFilter.Core.Xml.XmlDiagnosticCodes;

namespace NwFilter.Core.Xml;

/// <summary>
/// The <c>&lt;filter&gt;</c> grammar (libvirt's nwfilter_conf.c semantics): chain and priorities, rules with their
/// protocol element(s), <c>match='no'</c>, negation copies, the ipset fixup, port validation, filter references.
/// Everything protocol-specific comes from <see cref="ProtocolSchema"/>.
/// </summary>
internal sealed class FilterParser(XmlReadOptions options) : DocumentParser(options)
{
    /// <summary>Chain name prefixes in libvirt's lookup order, with their default chain priority.</summary>
    private static readonly (string Prefix, int Priority)[] ChainPrefixes =
    [
        ("mac", -800), ("vlan", -750),
        // libvirt has a -810 constant for stp, but stp is missing from its lookup table: the midpoint 0 applies.
        ("stp", 0),
        ("arp", -500), ("rarp", -400), ("ipv4", -700), ("ipv6", -600),
    ];

    private const int MaxChainNameLength = 12;
    private const int MinPriority = -1000;
    private const int MaxPriority = 1000;

    public ReadResult<FilterDefinition> Read(string xml)
    {
        var root = LoadRoot(new StringReader(xml), xml);
        return Finish(root is null ? null : Parse(root));
    }

    public ReadResult<FilterDefinition> Read(XmlNode root) => Finish(Parse(root));

    private FilterDefinition? Parse(XmlNode root)
    {
        if (root.Name != "filter")
        {
            Error(WrongRootElement, $"Expected root element <filter>, found <{root.Name}>", root, value: root.Name);
            return null;
        }
        CheckAttributes(root, "name", "chain", "priority");
        CheckNoText(root);

        var name = root.AttributeValue("name");
        if (string.IsNullOrEmpty(name))
        {
            Error(MissingAttribute, "filter has no name", root, "name", name);
        }
        else
        {
            Subject = name;
        }

        int? chainPriority = null;
        if (root.Attribute("priority") is { } prio && prio.Value.Length > 0)
        {
            if (!TextParsers.TryParseInt32(prio.Value, out var p))
            {
                Error(InvalidPriority, $"Could not parse chain priority '{prio.Value}'", root, prio);
            }
            else if (p is < MinPriority or > MaxPriority)
            {
                Error(ChainPriorityOutOfRange, $"Priority '{p}' is outside valid range of [{MinPriority},{MaxPriority}]", root, prio);
            }
            else
            {
                chainPriority = p;
            }
        }

        var chain = FilterDefinition.RootChain;
        var priority = 0;
        if (root.Attribute("chain") is { } chainAttr && chainAttr.Value.Length > 0)
        {
            if (CheckChain(root, chainAttr) is { } defaultPriority)
            {
                chain = chainAttr.Value;
                priority = chainPriority ?? defaultPriority;
            }
        }
        else if (chainPriority is not null && root.Attribute("priority") is { } ignored)
        {
            Warn(InvalidAttributeValue, "The filter priority is ignored without a chain (the root chain has priority 0)", root, "priority", ignored.Value);
        }

        Guid? uuid = null;
        if (SingleChild(root, "uuid") is { } uuidNode)
        {
            CheckAttributes(uuidNode);
            foreach (var c in uuidNode.Children)
            {
                UnknownChild(uuidNode, c);
            }
            var text = uuidNode.StringValue();
            if (text.Length > 0)
            {
                if (TextParsers.TryParseUuid(text, out var g))
                {
                    uuid = g;
                }
                else
                {
                    Error(InvalidUuid, $"malformed uuid element: '{text}'", uuidNode, value: text);
                }
            }
        }

        var entries = ImmutableArray.CreateBuilder<FilterEntry>(root.Children.Count);
        foreach (var child in root.Children)
        {
            switch (child.Name)
            {
                case "rule":
                    if (ParseRule(child) is { } rule)
                    {
                        entries.Add(rule);
                    }
                    break;
                case "filterref":
                    if (ParseReference(child) is { } reference)
                    {
                        entries.Add(reference);
                    }
                    break;
                case "uuid":
                    break;
                default:
                    UnknownChild(root, child);
                    break;
            }
        }

        if (HasErrors || name is null)
        {
            return null;
        }
        return new FilterDefinition(name)
        {
            Uuid = uuid,
            Chain = chain,
            Priority = priority,
            Entries = entries.Count == entries.Capacity ? entries.MoveToImmutable() : entries.ToImmutable(),
        };
    }

    /// <summary>Validates a chain name; returns the default priority of its prefix, or null when it is refused.</summary>
    private int? CheckChain(XmlNode root, XmlAttr attr)
    {
        var chain = attr.Value;
        if (chain.Length > MaxChainNameLength)
        {
            Error(ChainNameTooLong, $"Name of chain is longer than {MaxChainNameLength} characters", root, attr);
            return null;
        }
        foreach (var c in chain)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or ':' or '-'))
            {
                Error(InvalidChainName, "Chain name contains invalid characters", root, attr);
                return null;
            }
        }
        if (chain == FilterDefinition.RootChain)
        {
            return 0;
        }
        if (!chain.StartsWith(FilterDefinition.RootChain, StringComparison.Ordinal))
        {
            foreach (var (prefix, priority) in ChainPrefixes)
            {
                if (chain.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return priority;
                }
            }
        }
        Error(InvalidChainName,
            $"Invalid chain name '{chain}'. Please use a chain name called 'root' or any of the following prefixes: mac, vlan, stp, arp, rarp, ipv4, ipv6",
            root, attr);
        return null;
    }

    private FilterReference? ParseReference(XmlNode node)
    {
        CheckAttributes(node, "filter");
        CheckNoText(node);
        var filter = node.Attribute("filter");
        var parameters = ReadParameters(node);
        if (filter is null)
        {
            // libvirt's message for this case is, wrongly, about rules.
            Error(MissingAttribute, "filterref requires a filter attribute (libvirt: 'rule node requires action attribute')", node, "filter");
            return null;
        }
        if (filter.Value.Value.Length == 0)
        {
            StrictError(InvalidAttributeValue, "filterref has an empty filter name", node, filter.Value);
        }
        return new FilterReference(filter.Value.Value) { Parameters = parameters };
    }

    private FilterRule? ParseRule(XmlNode node)
    {
        CheckAttributes(node, "action", "direction", "priority", "statematch");
        CheckNoText(node);
        var ok = true;

        RuleAction action = default;
        var actionAttr = node.Attribute("action");
        if (actionAttr is null)
        {
            Error(MissingAttribute, "rule node requires action attribute", node, "action");
            ok = false;
        }
        else if (!TryParseAction(actionAttr.Value.Value, out action))
        {
            Error(InvalidAttributeValue, $"unknown rule action attribute value '{actionAttr.Value.Value}' (expected drop, accept, reject, return or continue)", node, actionAttr.Value);
            ok = false;
        }

        RuleDirection direction = default;
        var directionAttr = node.Attribute("direction");
        if (directionAttr is null)
        {
            Error(MissingAttribute, "rule node requires direction attribute", node, "direction");
            ok = false;
        }
        else if (!TryParseDirection(directionAttr.Value.Value, out direction))
        {
            Error(InvalidAttributeValue, $"unknown rule direction attribute value '{directionAttr.Value.Value}' (expected in, out or inout)", node, directionAttr.Value);
            ok = false;
        }

        var priority = FilterRule.DefaultPriority;
        if (node.Attribute("priority") is { } prio)
        {
            if (!TextParsers.TryParseInt32(prio.Value, out var p))
            {
                Error(InvalidPriority, $"Could not parse rule priority '{prio.Value}'", node, prio);
                ok = false;
            }
            else if (p is < MinPriority or > MaxPriority)
            {
                StrictError(RulePriorityOutOfRange,
                    $"Rule priority {p} is outside [{MinPriority},{MaxPriority}]; libvirt silently uses {FilterRule.DefaultPriority}", node, prio);
            }
            else
            {
                priority = p;
            }
        }

        var stateMatch = true;
        if (node.Attribute("statematch") is { } sm)
        {
            if (sm.Value == "0" || sm.Value.Equals("false", StringComparison.OrdinalIgnoreCase))
            {
                stateMatch = false;
            }
            else if (!(sm.Value == "1" || sm.Value.Equals("true", StringComparison.OrdinalIgnoreCase)))
            {
                StrictError(InvalidAttributeValue, $"statematch must be true, false, 1 or 0; libvirt ignores '{sm.Value}'", node, sm);
            }
        }

        ProtocolSchema? schema = null;
        XmlNode? firstProtocolNode = null;
        var values = new Dictionary<AttributeId, (AttributeValue Value, XmlNode Node, XmlAttr Attr)>();
        foreach (var child in node.Children)
        {
            if (schema is null)
            {
                if (ProtocolSchema.ByElementName.TryGetValue(child.Name, out var s))
                {
                    schema = s;
                    firstProtocolNode = child;
                    ok &= ParseProtocolElement(child, s, values);
                }
                else
                {
                    UnknownChild(node, child);
                }
            }
            else if (child.Name == schema.ElementName)
            {
                ok &= ParseProtocolElement(child, schema, values);
            }
            else if (ProtocolSchema.ByElementName.ContainsKey(child.Name))
            {
                StrictError(MultipleProtocols, $"The rule's protocol is <{schema.ElementName}>; libvirt ignores this <{child.Name}>", child);
            }
            else
            {
                UnknownChild(node, child);
            }
        }

        if (schema is null)
        {
            return ok ? new FilterRule(action, direction, ProtocolKind.None) { Priority = priority, StateMatch = stateMatch } : null;
        }

        ok &= ValidatePorts(schema, values, firstProtocolNode!);
        ApplyNegationCopies(schema, values);
        if (schema.IpSetFixup)
        {
            FixupIpSet(values);
        }
        if (!ok)
        {
            return null;
        }

        var attributes = ImmutableArray.CreateBuilder<RuleAttribute>(values.Count);
        foreach (var spec in schema.Attributes)
        {
            if (values.TryGetValue(spec.Id, out var v))
            {
                attributes.Add(new RuleAttribute(spec.Id, v.Value));
            }
        }
        return new FilterRule(action, direction, schema.Kind)
        {
            Priority = priority,
            StateMatch = stateMatch,
            Attributes = attributes.MoveToImmutable(),
        };
    }

    private bool ParseProtocolElement(XmlNode element, ProtocolSchema schema, Dictionary<AttributeId, (AttributeValue, XmlNode, XmlAttr)> values)
    {
        var ok = true;
        var negated = false;
        foreach (var a in element.Attributes)
        {
            if (a.Name == "match")
            {
                if (a.Value == "no")
                {
                    negated = true;
                }
                else if (a.Value != "yes")
                {
                    StrictError(InvalidAttributeValue, $"match must be 'yes' or 'no'; libvirt treats '{a.Value}' as 'yes'", element, a);
                }
            }
            else if (schema.Find(a.Name) is null)
            {
                StrictError(UnknownAttribute, $"Unknown attribute '{a.Name}' on <{element.Name}>", element, a);
            }
        }
        foreach (var spec in schema.Attributes)
        {
            if (element.Attribute(spec.Name) is not { } a)
            {
                continue;
            }
            if ((spec.Types & DataType.StringCopy) != 0 && RefuseControl(element, spec, a))
            {
                ok = false;
            }
            else if (ValueParser.TryParseAttribute(spec, a.Value, negated, out var value, out var error))
            {
                values[spec.Id] = (value, element, a);
            }
            else
            {
                Error(a.Value.StartsWith('$') ? InvalidVariableReference : InvalidAttributeValue, error!, element, a);
                ok = false;
            }
        }
        foreach (var c in element.Children)
        {
            UnknownChild(element, c);
        }
        CheckNoText(element);
        return ok;
    }

    /// <summary>
    /// A free-text attribute (a comment) with a line break or another control character: refused with the attribute,
    /// value and rule named; a quote is fine (libvirt's own tests use them; the xtables backends pass a comment as one
    /// argument). docs/design/limits.md.
    /// </summary>
    private bool RefuseControl(XmlNode element, AttributeSpec spec, XmlAttr a)
    {
        var control = ValueParser.IndexOfControl(a.Value);
        if (control < 0)
        {
            return false;
        }
        Error(InvalidAttributeValue,
            $"{spec.Name} of <{element.Name}> in the rule at line {element.Line} holds a line break or another control character " +
            $"(U+{(int)a.Value[control]:X4} at position {control + 1}): no backend can write it into a rule",
            element, a);
        return true;
    }

    private static readonly AttributeId[] PortIds = [AttributeId.SrcPortStart, AttributeId.SrcPortEnd, AttributeId.DstPortStart, AttributeId.DstPortEnd];

    /// <summary>An ip/ipv6 (ebtables) rule with ports needs protocol tcp, udp, dccp or sctp.</summary>
    private bool ValidatePorts(ProtocolSchema schema, Dictionary<AttributeId, (AttributeValue Value, XmlNode Node, XmlAttr Attr)> values, XmlNode element)
    {
        if (schema.Kind is not (ProtocolKind.Ip or ProtocolKind.Ipv6))
        {
            return true;
        }
        foreach (var id in PortIds)
        {
            if (!values.TryGetValue(id, out var port))
            {
                continue;
            }
            // A protocol given as a variable has no number at parse time, so libvirt refuses it here too.
            if (values.TryGetValue(AttributeId.IpProtocol, out var protocol) &&
                protocol.Value.Literal is { Number: 6 or 17 or 33 or 132 })
            {
                return true;
            }
            var label = schema.Kind == ProtocolKind.Ip ? "IP" : "IPv6";
            Error(InvalidPortSpecification,
                $"{label} rule with port specification requires protocol specification with protocol to be either one of tcp(6), udp(17), dccp(33), or sctp(132)",
                port.Node, port.Attr);
            return false;
        }
        return true;
    }

    private static void ApplyNegationCopies(ProtocolSchema schema, Dictionary<AttributeId, (AttributeValue Value, XmlNode Node, XmlAttr Attr)> values)
    {
        foreach (var (from, to) in schema.NegationCopies)
        {
            if (values.TryGetValue(to, out var target))
            {
                var negated = values.TryGetValue(from, out var source) && source.Value.Negated;
                values[to] = (target.Value.WithNegated(negated), target.Node, target.Attr);
            }
        }
    }

    private static readonly TypedValue DefaultIpSetFlags = new(DataType.IpSetFlags, "src") { Number = 1 };

    /// <summary>
    /// libvirt's fixup: an ipset without flags gets <c>src</c>; in every other case both are cleared, which drops
    /// flags without a set and also a set given with flags (so only <c>all</c>, which skips the fixup, keeps both).
    /// </summary>
    private void FixupIpSet(Dictionary<AttributeId, (AttributeValue Value, XmlNode Node, XmlAttr Attr)> values)
    {
        var hasSet = values.TryGetValue(AttributeId.IpSet, out var set);
        var hasFlags = values.TryGetValue(AttributeId.IpSetFlags, out var flags);
        if (hasSet && !hasFlags)
        {
            values[AttributeId.IpSetFlags] = (AttributeValue.Of(DefaultIpSetFlags), set.Node, set.Attr);
            return;
        }
        if (hasFlags)
        {
            StrictError(IpSetDropped,
                hasSet
                    ? $"libvirt drops ipset and ipsetflags given together on <{flags.Node.Name}>: on this protocol an ipset is kept only when given alone (it then matches 'src'); <all> keeps both"
                    : $"libvirt drops ipsetflags without ipset on <{flags.Node.Name}>",
                flags.Node, flags.Attr);
            values.Remove(AttributeId.IpSet);
            values.Remove(AttributeId.IpSetFlags);
        }
    }

    private static bool TryParseAction(string s, out RuleAction action)
    {
        (var ok, action) = s switch
        {
            "drop" => (true, RuleAction.Drop),
            "accept" => (true, RuleAction.Accept),
            "reject" => (true, RuleAction.Reject),
            "return" => (true, RuleAction.Return),
            "continue" => (true, RuleAction.Continue),
            _ => (false, default),
        };
        return ok;
    }

    private static bool TryParseDirection(string s, out RuleDirection direction)
    {
        (var ok, direction) = s switch
        {
            "in" => (true, RuleDirection.In),
            "out" => (true, RuleDirection.Out),
            "inout" => (true, RuleDirection.InOut),
            _ => (false, default),
        };
        return ok;
    }
}
