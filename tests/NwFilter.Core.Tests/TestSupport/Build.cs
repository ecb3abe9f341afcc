using System.Collections.Immutable;
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

    public static VariableAccess Variable(string text) =>
        ValueParser.TryParseVariable(text, out var access, out var error) ? access : throw new FormatException(error);

    public static ImmutableArray<T> Array<T>(params T[] items) => [.. items];
}
