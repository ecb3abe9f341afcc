using System.Collections.Immutable;
using NwFilter.Core.Model;

namespace NwFilter.Commands.Output;

/// <summary>
/// A binding's parameters as Get-NwFilterBinding shows them (its Parameters property): one value that reads as one
/// writes it (<c>IP=10.0.0.1, 10.0.0.2</c>) in every view, rather than a dictionary PowerShell would enumerate; indexed by
/// name (<c>$b.Parameters['IP']</c>) and taken back by the binding cmdlets' -Parameter.
/// </summary>
public sealed class BindingParameters
{
    internal BindingParameters(ParameterSet set) => Set = set;

    /// <summary>The parameters themselves.</summary>
    public ParameterSet Set { get; }

    /// <summary>The names of the parameters.</summary>
    public IEnumerable<string> Names => Set.Keys;

    /// <summary>The values of a parameter (none when it is not set).</summary>
    public ImmutableArray<string> this[string name] => Set.TryGetValue(name, out var values) ? values : [];

    /// <summary>How many parameters there are.</summary>
    public int Count => Set.Count;

    /// <inheritdoc/>
    public override string ToString() => RuleText.Parameters(Set);
}
