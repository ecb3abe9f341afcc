using System.Collections.Immutable;
using System.Text.RegularExpressions;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>Builds model objects in C# for tests: <c>Build.Rule(Accept, Out, Tcp, ("dstportstart", "22"))</c>.</summary>
public static class Build
{
    /// <summary>A rule; attribute values starting with <c>$</c> are variables, a leading <c>!</c> negates.</summary>
    public static FilterRule Rule(RuleAction action, RuleDirection direction, ProtocolKind protocol, params (string Name, string Value)[] attributes) =>
        Rule(action, direction, protocol, FilterRule.DefaultPriority, attributes);

    public static FilterRule Rule(RuleAction action, RuleDirection direction, ProtocolKind protocol, int priority, params (string Name, string Value)[] attributes)
    {
        var schema = ProtocolSchema.Of(protocol);
        var built = attributes.Select(a =>
        {
            var spec = schema.Find(a.Name) ?? throw new ArgumentException($"{schema.ElementName} has no attribute {a.Name}");
            var negated = a.Value.StartsWith('!');
            var text = negated ? a.Value[1..] : a.Value;
            var value = text.StartsWith('$') ? AttributeValue.Of(Variable(text), negated) : AttributeValue.Of(TestValues.Parse(spec, text), negated);
            return (Index: schema.Attributes.IndexOf(spec), Attribute: new RuleAttribute(spec.Id, value));
        }).OrderBy(a => a.Index).Select(a => a.Attribute);
        return new FilterRule(action, direction, protocol) { Priority = priority, Attributes = [.. built] };
    }

    public static FilterDefinition Filter(string name, params FilterEntry[] entries) => new(name) { Entries = [.. entries] };

    public static FilterDefinition Filter(string name, string chain, int priority, params FilterEntry[] entries) =>
        new(name) { Chain = chain, Priority = priority, Entries = [.. entries] };

    public static FilterReference Ref(string filter, params (string Name, string Value)[] parameters) =>
        new(filter) { Parameters = ParameterSet.FromPairs(parameters.Select(p => KeyValuePair.Create(p.Name, p.Value))) };

    public static ParameterSet Params(params (string Name, string Value)[] parameters) =>
        ParameterSet.FromPairs(parameters.Select(p => KeyValuePair.Create(p.Name, p.Value)));

    public static VariableAccess Variable(string text)
    {
        var match = VariablePattern().Match(text);
        if (!match.Success)
        {
            throw new FormatException(text);
        }
        var name = match.Groups[1].Value;
        if (!match.Groups[3].Success)
        {
            return new(name, VariableAccessKind.Iterator, 0);
        }
        var index = int.Parse(match.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
        return new(name, match.Groups[2].Value == "@" ? VariableAccessKind.Iterator : VariableAccessKind.Element, index);
    }

    private static Regex VariablePattern() => VariablePatternFixed;

    private static readonly Regex VariablePatternFixed = new(@"^\$([A-Za-z0-9_]+)(?:\[\s*(@?)\s*(\d+)\s*\])?", RegexOptions.CultureInvariant);

    public static ImmutableArray<T> Array<T>(params T[] items) => [.. items];
}
