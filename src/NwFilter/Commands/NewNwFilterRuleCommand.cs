using System.Collections;
using System.Collections.Immutable;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Creates a filter rule, for Set-NwFilter -Rule.
/// </summary>
/// <remarks>
/// New-NwFilterRule makes one rule: an action (accept, drop, reject, return, continue), a direction seen from the
/// virtual machine (in: traffic it receives, out: traffic it sends, inout: both), a priority (-1000 to 1000, lower runs
/// first; 500 by default) and at most one protocol with its attributes. Without -Protocol the rule matches everything
/// in its filter's chain.
///
/// Attributes are libvirt's, by their XML names, and are given either as parameters, which appear once -Protocol is
/// given (New-NwFilterRule accept in tcp -DstPortStart 22), or in an -Attribute hashtable
/// (-Attribute @{ dstportstart = 22 }). A value may be a variable reference such as '$IP', bound when the filter is
/// instantiated. To match packets that do NOT have a value, prefix it with '!' ('!10.0.0.1') or list the attribute
/// in -Not. Note libvirt's rule that some attributes take their negation from another: a mask from its address, the
/// port attributes of tcp, udp and sctp from srcportstart; you are warned when that changes what you asked for.
///
/// Every value is checked exactly as the XML reader checks it (the same parser and messages), so a rule that
/// New-NwFilterRule returns is one libvirt accepts. An invalid value is an error naming the attribute and the value.
/// </remarks>
/// <example>
/// <code>New-NwFilterRule -Action accept -Direction in -Protocol tcp -DstPortStart 22</code>
/// <para>A rule accepting incoming SSH.</para>
/// </example>
/// <example>
/// <code>New-NwFilterRule drop out ip -Attribute @{ srcipaddr = '!$IP'; protocol = 'udp' } -Priority 100</code>
/// <para>Drops UDP the VM sends from any address other than its own ($IP is bound per interface).</para>
/// </example>
/// <example>
/// <code>New-NwFilterRule accept inout all -Attribute @{ state = 'ESTABLISHED,RELATED' } -StateMatch $true</code>
/// <para>Accepts established traffic of every protocol.</para>
/// </example>
[Cmdlet(VerbsCommon.New, "NwFilterRule")]
[OutputType(typeof(FilterRule))]
public sealed class NewNwFilterRuleCommand : NwFilterCmdlet, IDynamicParameters
{
    private RuntimeDefinedParameterDictionary? _dynamic;

    /// <summary>What to do with a matching packet: Accept, Drop, Reject, Return (leave the sub-chain) or Continue.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public RuleAction Action { get; set; }

    /// <summary>Which traffic, seen from the VM: In (received), Out (sent) or InOut (both).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    public RuleDirection Direction { get; set; }

    /// <summary>The protocol element: mac, vlan, stp, arp, rarp, ip, ipv6 (Ethernet-level rules), tcp, udp, udplite, esp,
    /// ah, sctp, icmp, igmp, all (IPv4), tcp-ipv6, udp-ipv6, udplite-ipv6, esp-ipv6, ah-ipv6, sctp-ipv6, icmpv6, all-ipv6
    /// (IPv6). Without it the rule matches every packet of its chain.</summary>
    [Parameter(Position = 2)]
    [ArgumentCompleter(typeof(ProtocolCompleter))]
    [ValidateProtocol]
    public string? Protocol { get; set; }

    /// <summary>The rule priority, -1000 to 1000; lower runs first. The default is 500.</summary>
    [Parameter]
    [ValidateRange(-1000, 1000)]
    public int Priority { get; set; } = FilterRule.DefaultPriority;

    /// <summary>False to turn off connection-state matching for this rule (libvirt's statematch='false').</summary>
    [Parameter]
    public bool StateMatch { get; set; } = true;

    /// <summary>Protocol attributes by their XML names, such as @{ srcipaddr = '10.0.0.0'; srcipmask = 8 }. A value
    /// starting with '!' is negated.</summary>
    [Parameter]
    public Hashtable Attribute { get; set; } = [];

    /// <summary>The attributes (XML names) whose values are negated: the rule matches packets that do not have them.</summary>
    [Parameter]
    [Alias("Negate")]
    [ArgumentCompleter(typeof(AttributeNameCompleter))]
    public string[] Not { get; set; } = [];

    /// <inheritdoc/>
    public object? GetDynamicParameters()
    {
        if (Protocol is null || !ProtocolNames.TryResolve(Protocol, out var schema))
        {
            return null;
        }
        _dynamic = new RuntimeDefinedParameterDictionary();
        foreach (var spec in schema.Attributes)
        {
            var name = spec.Id.ToString();
            var attributes = new Collection<Attribute>
            {
                new ParameterAttribute { HelpMessage = $"The {schema.ElementName} attribute '{spec.Name}' ({spec.Types}). Prefix '!' to negate." },
            };
            if (!spec.Name.Equals(name, StringComparison.OrdinalIgnoreCase) && !StaticNames.Contains(spec.Name))
            {
                attributes.Add(new AliasAttribute(spec.Name));
            }
            _dynamic.Add(name, new RuntimeDefinedParameter(name, typeof(object), attributes));
        }
        return _dynamic;
    }

    private static readonly HashSet<string> StaticNames =
        new(["Action", "Direction", "Protocol", "Priority", "StateMatch", "Attribute", "Not", "Negate"], StringComparer.OrdinalIgnoreCase);

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        ProtocolSchema? schema = null;
        if (Protocol is not null)
        {
            ProtocolNames.TryResolve(Protocol, out schema);
        }

        // Gather (attribute, text) from -Attribute and the dynamic parameters.
        var given = new List<(string Name, object? Value)>();
        foreach (DictionaryEntry e in Attribute)
        {
            given.Add((e.Key?.ToString() ?? "", e.Value));
        }
        if (_dynamic is not null && schema is not null)
        {
            foreach (var p in _dynamic.Values.Where(p => p.IsSet))
            {
                given.Add((schema.Find(Enum.Parse<AttributeId>(p.Name))!.Name, p.Value));
            }
        }

        var problems = new List<Diagnostic>();
        var negate = new HashSet<string>(Not, StringComparer.OrdinalIgnoreCase);
        if (schema is null)
        {
            foreach (var (name, _) in given)
            {
                problems.Add(Problem(XmlDiagnosticCodes.UnknownAttribute, $"The attribute '{name}' needs a protocol: give -Protocol.", name, null));
            }
            foreach (var name in negate)
            {
                problems.Add(Problem(XmlDiagnosticCodes.UnknownAttribute, $"Cannot negate '{name}': the rule has no protocol.", name, null));
            }
        }

        var values = new Dictionary<AttributeId, AttributeValue>();
        var negatedAsked = new HashSet<AttributeId>();
        if (schema is not null)
        {
            foreach (var name in negate.Where(n => schema.Find(n.ToLowerInvariant()) is null))
            {
                problems.Add(UnknownAttribute(schema, name));
            }
            foreach (var (name, raw) in given)
            {
                var spec = schema.Find(name.ToLowerInvariant());
                if (spec is null)
                {
                    problems.Add(UnknownAttribute(schema, name));
                    continue;
                }
                var text = Text(raw);
                var negated = negate.Contains(spec.Name);
                if (text.StartsWith('!'))
                {
                    negated = true;
                    text = text[1..].TrimStart();
                }
                if (values.ContainsKey(spec.Id))
                {
                    problems.Add(Problem(XmlDiagnosticCodes.InvalidAttributeValue, $"The attribute '{spec.Name}' is given twice.", spec.Name, text));
                }
                else if (ValueParser.TryParseAttribute(spec, text, negated, out var value, out var error))
                {
                    values[spec.Id] = value;
                    if (negated)
                    {
                        negatedAsked.Add(spec.Id);
                    }
                }
                else
                {
                    problems.Add(Problem(XmlDiagnosticCodes.InvalidAttributeValue, error!, spec.Name, text));
                }
            }
            foreach (var name in negate)
            {
                if (schema.Find(name.ToLowerInvariant()) is { } spec && !values.ContainsKey(spec.Id))
                {
                    problems.Add(Problem(XmlDiagnosticCodes.InvalidAttributeValue, $"Cannot negate '{spec.Name}': it has no value.", spec.Name, null));
                }
            }
        }
        if (problems.Count > 0)
        {
            WriteError(new NwFilterException(problems), Protocol ?? (object)Action);
            return;
        }

        var rule = new FilterRule(Action, Direction, schema?.Kind ?? ProtocolKind.None)
        {
            Priority = Priority,
            StateMatch = StateMatch,
            Attributes = schema is null
                ? []
                : [.. schema.Attributes.Where(a => values.ContainsKey(a.Id)).Select(a => new RuleAttribute(a.Id, values[a.Id]))],
        };

        // The reader's rule-level steps (negation copies, the ipset fixup, the port check) apply to the rule as they
        // would to XML: write it in a filter and read it back.
        FilterRule normalised;
        try
        {
            var probe = new FilterDefinition("rule") { Entries = [rule] };
            normalised = NwFilterXmlReader.ReadFilter(NwFilterXmlWriter.Write(probe), new XmlReadOptions { SourceName = "New-NwFilterRule" })
                .Value.Rules.Single();
        }
        catch (NwFilterException e)
        {
            WriteError(new NwFilterException(e.Diagnostics.Select(d => d with { Category = DiagnosticCategory.InvalidArgument })), rule);
            return;
        }
        if (schema is not null)
        {
            foreach (var a in normalised.Attributes)
            {
                var asked = negatedAsked.Contains(a.Id);
                if (a.Value.Negated != asked && values.ContainsKey(a.Id))
                {
                    var name = schema.Find(a.Id)!.Name;
                    var source = schema.NegationCopies.FirstOrDefault(c => c.To == a.Id).From;
                    WriteWarning($"'{name}' is {(a.Value.Negated ? "negated" : "not negated")}: libvirt gives it the negation of " +
                                 $"'{schema.Find(source)?.Name ?? "another attribute"}'.");
                }
            }
        }
        WriteObject(normalised);
    }

    private static string Text(object? raw) => raw switch
    {
        PSObject p => Text(p.BaseObject),
        null => "",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => raw.ToString() ?? "",
    };

    private static Diagnostic UnknownAttribute(ProtocolSchema schema, string name) =>
        Problem(XmlDiagnosticCodes.UnknownAttribute,
            $"'{name}' is not an attribute of {schema.ElementName}; its attributes are: {string.Join(", ", schema.Attributes.Select(a => a.Name))}.",
            name, null);

    private static Diagnostic Problem(string code, string message, string? attribute, string? value) =>
        Diagnostic.Error(code, message, DiagnosticCategory.InvalidArgument) with { Attribute = attribute, Value = value };
}

/// <summary>Looks protocols up by element name (tcp-ipv6) or by kind name (TcpIpv6), case-insensitively.</summary>
internal static class ProtocolNames
{
    internal static bool TryResolve(string text, out ProtocolSchema schema)
    {
        if (ProtocolSchema.ByElementName.TryGetValue(text.ToLowerInvariant(), out schema!))
        {
            return true;
        }
        if (Enum.TryParse<ProtocolKind>(text, ignoreCase: true, out var kind) && kind != ProtocolKind.None)
        {
            schema = ProtocolSchema.Of(kind);
            return true;
        }
        return false;
    }
}

/// <summary>Validates a protocol name, listing the valid ones on failure.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ValidateProtocolAttribute : ValidateArgumentsAttribute
{
    /// <inheritdoc/>
    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        var text = (arguments is PSObject p ? p.BaseObject : arguments)?.ToString() ?? "";
        if (!ProtocolNames.TryResolve(text, out _))
        {
            throw new ValidationMetadataException(
                $"'{text}' is not a protocol. Use one of: {string.Join(", ", ProtocolSchema.ByElementName.Values.OrderBy(s => s.Kind).Select(s => s.ElementName))}.");
        }
    }
}
