using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;

namespace NwFilter.Core.Resolution;

/// <summary>
/// libvirt's variable iteration for one rule (3.10): iterator 0 always exists and comes first; each distinct
/// <c>[@N]</c> is another iterator in first-use order; each <c>NAME[N]</c> access gets a private iterator fixed at N.
/// Accesses on one iterator advance in lockstep (equal list lengths required); iterators form a cartesian product with
/// the first one fastest; within an iterator, a step whose tuple of values repeats an earlier step is skipped.
/// </summary>
internal static class VariableCombinations
{
    public const string CardinalityMismatchCode = "VariableCardinalityMismatch";

    /// <summary>A rule uses a list variable of more than <see cref="Limits.MaxListLength"/> values.</summary>
    public const string ListTooLongCode = "VariableListTooLong";

    /// <summary>The distinct variable accesses of a rule, in first-use (attribute table) order.</summary>
    public static ImmutableArray<VariableAccess> AccessesOf(FilterRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var result = ImmutableArray.CreateBuilder<VariableAccess>();
        foreach (var attribute in rule.Attributes)
        {
            if (attribute.Value.Variable is { } access && !result.Contains(access))
            {
                result.Add(access);
            }
        }
        return result.ToImmutable();
    }

    /// <summary>
    /// Every combination of values for <paramref name="accesses"/>, in libvirt's order; each combination holds one
    /// value per access, aligned with <paramref name="accesses"/>. Every access must be available in
    /// <paramref name="variables"/> (check that first). Returns false, with a reason, when lockstep lists differ in length.
    /// </summary>
    public static bool TryExpand(
        IReadOnlyList<VariableAccess> accesses, IReadOnlyDictionary<string, ImmutableArray<string>> variables,
        out List<string[]> combinations, out string? error) =>
        TryExpand(accesses, variables, int.MaxValue, out combinations, out error, out _);

    /// <summary>
    /// <see cref="TryExpand(IReadOnlyList{VariableAccess}, IReadOnlyDictionary{string, ImmutableArray{string}}, out List{string[]}, out string?)"/>
    /// within limits: a list longer than <see cref="Limits.MaxListLength"/> (<see cref="ListTooLongCode"/>) or more
    /// than <paramref name="maxCombinations"/> combinations (<see cref="Graph.FilterGraph.TooManyRuleInstancesCode"/>)
    /// is refused before anything is expanded; <paramref name="code"/> tells which error it is.
    /// </summary>
    internal static bool TryExpand(
        IReadOnlyList<VariableAccess> accesses, IReadOnlyDictionary<string, ImmutableArray<string>> variables, int maxCombinations,
        out List<string[]> combinations, out string? error, out string? code)
    {
        ArgumentNullException.ThrowIfNull(accesses);
        ArgumentNullException.ThrowIfNull(variables);
        combinations = [];
        error = null;
        code = null;

        // Build the iterators. Iterator 0 is always first, even when unused.
        var iterators = new List<Iterator> { new(0, fixedIndex: null) };
        for (var i = 0; i < accesses.Count; i++)
        {
            var access = accesses[i];
            var values = variables[access.Name];
            if (values.Length > Limits.MaxListLength)
            {
                error = $"{access} has {values.Length:N0} values; a list variable may hold at most {Limits.MaxListLength:N0}.";
                code = ListTooLongCode;
                return false;
            }
            if (access.Kind == VariableAccessKind.Element)
            {
                var element = new Iterator(-1, access.Index);
                element.Add(i, values);
                iterators.Add(element);
                continue;
            }
            var iterator = iterators.Find(it => it.FixedIndex is null && it.Id == access.Index);
            if (iterator is null)
            {
                iterators.Add(iterator = new Iterator(access.Index, fixedIndex: null));
            }
            if (iterator.Members.Count > 0 && iterator.Length != values.Length)
            {
                var other = accesses[iterator.Members[0].Access];
                error = $"Cardinality of list items must be the same for processing them in parallel: {other} has {iterator.Length} values, {access} has {values.Length}.";
                code = CardinalityMismatchCode;
                return false;
            }
            iterator.Add(i, values);
        }

        var steps = iterators.Select(it => it.UniqueSteps()).ToArray();
        long total = 1;
        foreach (var step in steps)
        {
            total *= step.Length;
            if (total > maxCombinations)
            {
                error = $"its variables give more than {maxCombinations:N0} combinations (" +
                        string.Join(" x ", steps.Select(x => x.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))) +
                        $"); a binding may have at most {Limits.MaxRuleInstances:N0} rule instances.";
                code = Graph.FilterGraph.TooManyRuleInstancesCode;
                return false;
            }
        }
        combinations.Capacity = (int)total;
        var position = new int[steps.Length];
        while (true)
        {
            var combination = new string[accesses.Count];
            for (var k = 0; k < iterators.Count; k++)
            {
                foreach (var (access, values) in iterators[k].Members)
                {
                    combination[access] = values[steps[k][position[k]]];
                }
            }
            combinations.Add(combination);

            // Advance the odometer: the first iterator is the fastest digit.
            var digit = 0;
            while (digit < steps.Length)
            {
                if (++position[digit] < steps[digit].Length)
                {
                    break;
                }
                position[digit] = 0;
                digit++;
            }
            if (digit == steps.Length)
            {
                return true;
            }
        }
    }

    private sealed class Iterator(int id, int? fixedIndex)
    {
        public int Id { get; } = id;
        public int? FixedIndex { get; } = fixedIndex;
        public List<(int Access, ImmutableArray<string> Values)> Members { get; } = [];
        public int Length => Members.Count == 0 ? 1 : Members[0].Values.Length;

        public void Add(int access, ImmutableArray<string> values) => Members.Add((access, values));

        /// <summary>The list positions visited: every position whose tuple differs from all earlier ones.</summary>
        public int[] UniqueSteps()
        {
            if (FixedIndex is { } index)
            {
                return [index];
            }
            if (Members.Count == 0)
            {
                return [0];
            }
            var result = new List<int>(Length);
            if (Length <= 16)
            {
                for (var p = 0; p < Length; p++)
                {
                    var duplicate = false;
                    for (var q = 0; q < p && !duplicate; q++)
                    {
                        duplicate = Members.TrueForAll(m => m.Values[p] == m.Values[q]);
                    }
                    if (!duplicate)
                    {
                        result.Add(p);
                    }
                }
                return [.. result];
            }
            // Long lists: a set of the positions' tuples, linear instead of quadratic.
            var seen = new HashSet<int>(new TupleAt(Members));
            for (var p = 0; p < Length; p++)
            {
                if (seen.Add(p))
                {
                    result.Add(p);
                }
            }
            return [.. result];
        }
    }

    /// <summary>Two list positions are equal when every member list holds the same value at both.</summary>
    private sealed class TupleAt(List<(int Access, ImmutableArray<string> Values)> members) : IEqualityComparer<int>
    {
        public bool Equals(int p, int q) => members.TrueForAll(m => string.Equals(m.Values[p], m.Values[q], StringComparison.Ordinal));

        public int GetHashCode(int p)
        {
            var hash = new HashCode();
            foreach (var m in members)
            {
                hash.Add(m.Values[p], StringComparer.Ordinal);
            }
            return hash.ToHashCode();
        }
    }
}
