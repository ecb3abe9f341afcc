using System.Collections;
using System.Collections.Immutable;

namespace NwFilter.Core.Model;

/// <summary>
/// Named variable values, as given by <c>&lt;parameter name= value=&gt;</c> elements or by a binding. A repeated name
/// makes a list, kept in the order given. Enumerates by name (ordinal), as libvirt prints them.
/// </summary>
public sealed class ParameterSet : IReadOnlyDictionary<string, ImmutableArray<string>>, IEquatable<ParameterSet>
{
    private readonly ImmutableSortedDictionary<string, ImmutableArray<string>> _values;

    private ParameterSet(ImmutableSortedDictionary<string, ImmutableArray<string>> values) => _values = values;

    /// <summary>No variables.</summary>
    public static ParameterSet Empty { get; } = new(ImmutableSortedDictionary.Create<string, ImmutableArray<string>>(StringComparer.Ordinal));

    /// <summary>Builds a set from (name, value) pairs in document order; repeated names form lists.</summary>
    public static ParameterSet FromPairs(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var builder = new Dictionary<string, ImmutableArray<string>.Builder>(StringComparer.Ordinal);
        foreach (var (name, value) in pairs)
        {
            if (!builder.TryGetValue(name, out var list))
            {
                builder[name] = list = ImmutableArray.CreateBuilder<string>();
            }
            list.Add(value);
        }
        return new(builder.ToImmutableSortedDictionary(p => p.Key, p => p.Value.ToImmutable(), StringComparer.Ordinal));
    }

    /// <summary>A copy where <paramref name="name"/> holds exactly <paramref name="values"/>.</summary>
    public ParameterSet With(string name, IEnumerable<string> values) => new(_values.SetItem(name, [.. values]));

    /// <summary>A copy where <paramref name="name"/> holds the single <paramref name="value"/>.</summary>
    public ParameterSet With(string name, string value) => With(name, [value]);

    /// <summary>A copy without <paramref name="name"/>.</summary>
    public ParameterSet Without(string name) => new(_values.Remove(name));

    /// <summary>
    /// This set laid over <paramref name="lower"/>: names present here win (libvirt: the caller's variables override a
    /// filterref's parameters).
    /// </summary>
    public ParameterSet Over(ParameterSet lower) =>
        lower.Count == 0 ? this : new(lower._values.SetItems(_values));

    /// <summary>Every (name, value) pair: names in ordinal order, list values in order.</summary>
    public IEnumerable<KeyValuePair<string, string>> Pairs =>
        _values.SelectMany(p => p.Value.Select(v => KeyValuePair.Create(p.Key, v)));

    /// <summary>The values of the variable <paramref name="key"/>.</summary>
    public ImmutableArray<string> this[string key] => _values[key];
    /// <summary>The variable names, in ordinal order.</summary>
    public IEnumerable<string> Keys => _values.Keys;
    /// <summary>The value lists, in the order of <see cref="Keys"/>.</summary>
    public IEnumerable<ImmutableArray<string>> Values => _values.Values;
    /// <summary>The number of variables.</summary>
    public int Count => _values.Count;
    /// <summary>True when the variable <paramref name="key"/> is set.</summary>
    public bool ContainsKey(string key) => _values.ContainsKey(key);
    /// <summary>The values of <paramref name="key"/>, when it is set.</summary>
    public bool TryGetValue(string key, out ImmutableArray<string> value) => _values.TryGetValue(key, out value);
    /// <summary>The variables and their values, in ordinal order of name.</summary>
    public IEnumerator<KeyValuePair<string, ImmutableArray<string>>> GetEnumerator() => _values.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(ParameterSet? other) =>
        other is not null && Count == other.Count &&
        _values.All(p => other.TryGetValue(p.Key, out var v) && v.SequenceEqual(p.Value));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ParameterSet);
    /// <inheritdoc/>
    public override int GetHashCode() => Count;

    /// <summary>Readable form: <c>A=1, B=[80,90]</c>.</summary>
    public override string ToString() =>
        string.Join(", ", _values.Select(p => p.Value.Length == 1 ? $"{p.Key}={p.Value[0]}" : $"{p.Key}=[{string.Join(",", p.Value)}]"));
}
