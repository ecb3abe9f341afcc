using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Schema;
using static NwFilter.Core.Xml.XmlDiagnosticCodes;

namespace NwFilter.Core.Tests.Hostile;

/// <summary>
/// Hostile values: variable values that try to break out of an ebtables/iptables argument or an nft statement, and
/// out-of-range numbers of every typed attribute of the protocol table (<see cref="ProtocolSchema.All"/>).
/// </summary>
internal static class ValueCases
{
    /// <summary>Values a binding's parameter may carry to break out of an argument or a statement.</summary>
    private static readonly (string Label, string Value)[] BreakOuts =
    [
        ("iptables-argument", "1.2.3.4 -j ACCEPT"),
        ("option", "--jump ACCEPT"),
        ("double-quote", "1.2.3.4\" accept"),
        ("single-quote", "1.2.3.4' accept"),
        ("semicolon", "1.2.3.4; flush ruleset"),
        ("brace-close", "1.2.3.4 } accept"),
        ("brace-open", "{ 1.2.3.4, 0.0.0.0/0 }"),
        ("newline", "1.2.3.4\naccept"),
        ("carriage-return", "1.2.3.4\r"),
        ("hash", "1.2.3.4 # rest"),
        ("command-substitution", "$(reboot)"),
        ("backticks", "`id`"),
        ("set-reference", "@evil"),
        ("nft-verdict", "1.2.3.4 counter accept"),
    ];

    /// <summary>Where a variable goes: a rule of the base filter's shape, and the variable that goes into the value.</summary>
    private static readonly (string Label, ProtocolKind Protocol, string Attribute)[] Targets =
    [
        ("ip-srcipaddr", ProtocolKind.Ip, "srcipaddr"),
        ("mac-srcmacaddr", ProtocolKind.Mac, "srcmacaddr"),
        ("tcp-dstportstart", ProtocolKind.Tcp, "dstportstart"),
        ("udp-comment", ProtocolKind.Udp, "comment"),
        ("tcp-state", ProtocolKind.Tcp, "state"),
    ];

    public static IEnumerable<HostileCase> All()
    {
        foreach (var (target, protocol, attribute) in Targets)
        {
            foreach (var (label, value) in BreakOuts)
            {
                foreach (var backend in Enum.GetValues<FirewallBackendKind>())
                {
                    yield return new($"breakout-{target}-{label}-{backend}", FilterResolver.InvalidVariableValueCode, s =>
                    {
                        var top = TestSupport.Build.Filter("breakout", TestSupport.Build.Rule(RuleAction.Accept, RuleDirection.Out, protocol, (attribute, "$V")));
                        var parameters = TestSupport.Build.Params(("V", value));
                        return () => s.Compile(top, parameters, backend);
                    })
                    {
                        Check = e => Assert.Equal((attribute, value), (ErrorIds.Primary(e)!.Attribute, ErrorIds.Primary(e)!.Value)),
                    };
                }
            }
        }
        // A comment literal with a line break (or another control character): refused where it is read, naming it.
        foreach (var (label, text) in new[] { ("lf", "&#10;"), ("cr", "&#13;"), ("tab", "&#9;"), ("c1", "&#x85;"), ("del", "&#x7F;") })
        {
            foreach (var element in new[] { "mac", "tcp", "ipv6", "all-ipv6" })
            {
                yield return new($"comment-{label}-{element}", InvalidAttributeValue, s => () =>
                    s.DefineXml($"<filter name='c'><rule action='accept' direction='in'><{element} comment='a{text}b'/></rule></filter>"))
                {
                    Check = e => Assert.Equal((element, "comment"), (ErrorIds.Primary(e)!.Element, ErrorIds.Primary(e)!.Attribute)),
                };
            }
        }
        foreach (var c in OutOfRange())
        {
            yield return c;
        }
    }

    /// <summary>Every numeric (or prefix-length) attribute of every protocol, with values just past its range and far past it.</summary>
    private static IEnumerable<HostileCase> OutOfRange()
    {
        foreach (var schema in ProtocolSchema.All.Values.Where(p => p.Kind != ProtocolKind.None).OrderBy(p => p.ElementName, StringComparer.Ordinal))
        {
            foreach (var spec in schema.Attributes)
            {
                foreach (var value in OutOfRangeValues(spec))
                {
                    var element = schema.ElementName;
                    yield return new($"range-{element}-{spec.Name}-{value}", InvalidAttributeValue, s => () =>
                        s.DefineXml($"<filter name='r'><rule action='accept' direction='in'><{element} {spec.Name}='{value}'/></rule></filter>"))
                    {
                        Check = e => Assert.Equal((element, spec.Name, value), (ErrorIds.Primary(e)!.Element, ErrorIds.Primary(e)!.Attribute, ErrorIds.Primary(e)!.Value)),
                    };
                }
            }
        }
    }

    internal static IEnumerable<string> OutOfRangeValues(AttributeSpec spec)
    {
        var types = spec.Types;
        var numeric = types & (DataType.UInt8 | DataType.UInt16 | DataType.UInt32 | DataType.UInt8Hex | DataType.UInt16Hex | DataType.UInt32Hex);
        if (numeric != 0)
        {
            ulong limit = (numeric & (DataType.UInt32 | DataType.UInt32Hex)) != 0 ? uint.MaxValue
                : (numeric & (DataType.UInt16 | DataType.UInt16Hex)) != 0 ? ushort.MaxValue : byte.MaxValue;
            var max = spec.Max ?? limit;
            yield return (max + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (max != limit)
            {
                yield return (limit + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            if ((numeric & (DataType.UInt8Hex | DataType.UInt16Hex | DataType.UInt32Hex)) != 0)
            {
                yield return "0x" + (limit + 1).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
            }
            if (spec.Min > 0)
            {
                yield return (spec.Min - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            yield return "-1";
            yield return "18446744073709551616";
        }
        if ((types & DataType.IPv4Mask) != 0)
        {
            yield return "33";
            yield return "-1";
        }
        if ((types & DataType.IPv6Mask) != 0)
        {
            yield return "129";
            yield return "-1";
        }
    }
}
