using System.Collections.Immutable;
using System.Net.NetworkInformation;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Resolution;

/// <summary>
/// Resolves a filter tree for one interface into rule instances with every variable bound (libvirt 5.2, 5.3, 3.10).
/// Pure: the same inputs give the same instances. Every problem (missing filters, missing variables, list lengths
/// that differ, values that are not valid for their attribute) is collected and thrown at once.
/// </summary>
internal static class FilterResolver
{
    public const string UnresolvedVariableCode = "UnresolvedVariable";
    public const string InvalidVariableValueCode = "InvalidVariableValue";
    public const string InvalidIpLearningCode = "InvalidIpLearningMode";
    public const string InvalidIPv6RouterCode = "InvalidIPv6Router";

    /// <summary>Resolves the filter named <paramref name="filterName"/> from <paramref name="source"/>.</summary>
    public static Resolution Resolve(IFilterSource source, string filterName, ParameterSet parameters, PhysicalAddress? mac = null, ResolveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(filterName);
        var top = source.Find(filterName) ?? throw new NwFilterException(
            Diagnostic.Error(FilterGraph.FilterNotFoundCode, $"No filter named '{filterName}'.", DiagnosticCategory.ObjectNotFound)
            with { Filter = filterName, Value = filterName });
        return Resolve(source, top, parameters, mac, options);
    }

    /// <summary>
    /// Resolves <paramref name="top"/> (its references looked up in <paramref name="source"/>) with the binding's
    /// <paramref name="parameters"/>. When <paramref name="mac"/> is given and there is no <c>MAC</c> parameter, MAC
    /// takes it.
    /// </summary>
    public static Resolution Resolve(IFilterSource source, FilterDefinition top, ParameterSet parameters, PhysicalAddress? mac = null, ResolveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(top);
        ArgumentNullException.ThrowIfNull(parameters);
        options ??= ResolveOptions.Default;

        var variables = parameters;
        if (mac is not null && !variables.ContainsKey(ReservedVariables.Mac))
        {
            variables = variables.With(ReservedVariables.Mac, FormatMac(mac));
        }

        var flat = FilterGraph.Flatten(source, top, variables);
        var problems = new List<Diagnostic>(flat.Problems);
        if (IsRouter(variables, top, problems))
        {
            // IPV6_ROUTER='true': the VM may send router advertisements and redirects, the RA guard's rules are left out.
            flat = flat with { Rules = [.. flat.Rules.Where(r => !string.Equals(r.Filter.Name, ReservedVariables.RouterGuardFilter, StringComparison.Ordinal))] };
        }

        // Missing variables first (libvirt checks them before instantiating anything).
        var missing = new List<(VariableAccess Access, FlattenedRule Where, AttributeId Attribute)>();
        var missingSet = new HashSet<VariableAccess>();
        var accessesByRule = new ImmutableArray<VariableAccess>[flat.Rules.Length];
        var ruleIsComplete = new bool[flat.Rules.Length];
        for (var r = 0; r < flat.Rules.Length; r++)
        {
            var rule = flat.Rules[r];
            accessesByRule[r] = VariableCombinations.AccessesOf(rule.Rule);
            ruleIsComplete[r] = true;
            foreach (var access in accessesByRule[r])
            {
                if (!IsAvailable(access, rule.Variables))
                {
                    ruleIsComplete[r] = false;
                    if (missingSet.Add(access))
                    {
                        missing.Add((access, rule, AttributeUsing(rule.Rule, access)));
                    }
                }
            }
        }

        // IP and IPV6 are learned when they are the only variables missing and their learning is not 'none'.
        var ipAccess = new VariableAccess(ReservedVariables.IP, VariableAccessKind.Iterator, 0);
        var ip6Access = new VariableAccess(ReservedVariables.IPv6, VariableAccessKind.Iterator, 0);
        var ipMissing = missing.Exists(m => m.Access == ipAccess);
        var ip6Missing = missing.Exists(m => m.Access == ip6Access);
        var onlyLearnableMissing = missing.Count > 0 && missing.TrueForAll(m => m.Access == ipAccess || m.Access == ip6Access);
        var learning = IpLearningMode.Any;
        var learning6 = IpLearningMode.Any;
        if (onlyLearnableMissing)
        {
            if (!TryParseLearning(variables, ReservedVariables.IpLearning, out learning, out var learningText))
            {
                problems.Add(Diagnostic.Error(InvalidIpLearningCode,
                    $"Filter '{top.Name}': learning value '{learningText}' of {ReservedVariables.IpLearning} is invalid; use any, dhcp or none.",
                    DiagnosticCategory.InvalidArgument) with { Filter = top.Name, Value = learningText });
            }
            learning6 = learning; // CTRL_IPV6_LEARNING defaults to CTRL_IP_LEARNING's mode
            if (ip6Missing && variables.ContainsKey(ReservedVariables.IPv6Learning))
            {
                if (!TryParseLearning(variables, ReservedVariables.IPv6Learning, out learning6, out var learning6Text))
                {
                    problems.Add(Diagnostic.Error(InvalidIpLearningCode,
                        $"Filter '{top.Name}': learning value '{learning6Text}' of {ReservedVariables.IPv6Learning} is invalid; use any, dhcp or none.",
                        DiagnosticCategory.InvalidArgument) with { Filter = top.Name, Value = learning6Text });
                }
                else if (ipMissing && learning6 != learning && learning6 != IpLearningMode.None && learning != IpLearningMode.None)
                {
                    // One learner per port, in one mode: IPv4 and IPv6 learned together must agree.
                    problems.Add(Diagnostic.Error(InvalidIpLearningCode,
                        $"Filter '{top.Name}': {ReservedVariables.IPv6Learning} '{learning6Text}' differs from {ReservedVariables.IpLearning} " +
                        $"'{learning.ToString().ToLowerInvariant()}'; when both IP and IPV6 are learned they are learned in one mode. Give the same mode, or give IP or IPV6.",
                        DiagnosticCategory.InvalidArgument) with { Filter = top.Name, Value = learning6Text });
                }
            }
        }
        var learns = onlyLearnableMissing && (!ipMissing || learning != IpLearningMode.None) && (!ip6Missing || learning6 != IpLearningMode.None);
        if (!learns)
        {
            foreach (var (access, where, attribute) in missing)
            {
                var none = onlyLearnableMissing && (access == ipAccess ? learning : learning6) == IpLearningMode.None;
                problems.Add(MissingVariable(access, where, attribute, none ? (access == ipAccess ? ReservedVariables.IpLearning : ReservedVariables.IPv6Learning) : null));
            }
        }

        // Bind every complete rule, for every combination, validating each substituted value.
        var instances = new List<(RuleInstance Instance, int Order)>(flat.Rules.Length);
        var badValues = new HashSet<(string, string, AttributeId)>();
        for (var r = 0; r < flat.Rules.Length; r++)
        {
            if (ruleIsComplete[r] && !Bind(flat.Rules[r], accessesByRule[r], options.ValueParser, r, instances, problems, badValues))
            {
                break; // a limit: the binding is refused, binding more rules would only cost time
            }
        }

        if (problems.Exists(p => p.Severity == DiagnosticSeverity.Error))
        {
            throw new NwFilterException(problems.OrderBy(p => p.Severity == DiagnosticSeverity.Error ? 0 : 1));
        }
        if (learns)
        {
            return new(ResolutionStatus.NeedsIpLearning, [], ipMissing ? learning : learning6, variables) { LearnIPv4 = ipMissing, LearnIPv6 = ip6Missing };
        }

        return new(ResolutionStatus.Resolved, Order(instances), learning, variables);
    }

    /// <summary>
    /// libvirt's order: root-chain rules first, then by rule priority; stable, so ties (and the combinations of one
    /// rule) keep flattening order.
    /// </summary>
    private static ImmutableArray<RuleInstance> Order(List<(RuleInstance Instance, int Order)> instances)
    {
        var sorted = instances.ToArray();
        Array.Sort(sorted, static (a, b) =>
        {
            var root = (b.Instance.IsRootChain ? 1 : 0) - (a.Instance.IsRootChain ? 1 : 0);
            if (root != 0)
            {
                return root;
            }
            var priority = a.Instance.RulePriority.CompareTo(b.Instance.RulePriority);
            return priority != 0 ? priority : a.Order.CompareTo(b.Order);
        });
        var result = ImmutableArray.CreateBuilder<RuleInstance>(sorted.Length);
        foreach (var (instance, _) in sorted)
        {
            result.Add(instance);
        }
        return result.MoveToImmutable();
    }

    /// <summary>Binds one rule's combinations into <paramref name="output"/>; false when a limit is reached (reported).</summary>
    private static bool Bind(
        FlattenedRule flat, ImmutableArray<VariableAccess> accesses, AttributeValueParser parser, int ruleIndex,
        List<(RuleInstance, int)> output, List<Diagnostic> problems, HashSet<(string, string, AttributeId)> badValues)
    {
        var rule = flat.Rule;
        var filter = flat.Filter;
        if (accesses.IsEmpty)
        {
            output.Add((new RuleInstance(filter.Name, filter.Chain, filter.Priority, rule.Priority, rule), OrderKey(ruleIndex, 0)));
            return true;
        }

        var budget = Limits.MaxRuleInstances - output.Count;
        if (!VariableCombinations.TryExpand(accesses, flat.Variables, budget, out var combinations, out var error, out var code))
        {
            var limit = code != VariableCombinations.CardinalityMismatchCode;
            problems.Add(Diagnostic.Error(code!, $"Filter '{filter.Name}': {error}", limit ? DiagnosticCategory.InvalidData : DiagnosticCategory.InvalidArgument)
                with { Filter = filter.Name });
            return !limit;
        }

        var schema = ProtocolSchema.Of(rule.Protocol);
        var failed = false;
        var built = new List<RuleInstance>(combinations.Count);
        foreach (var combination in combinations)
        {
            var attributes = ImmutableArray.CreateBuilder<RuleAttribute>(rule.Attributes.Length);
            foreach (var attribute in rule.Attributes)
            {
                if (attribute.Value.Variable is not { } access)
                {
                    attributes.Add(attribute);
                    continue;
                }
                var text = combination[accesses.IndexOf(access)];
                var spec = schema.Find(attribute.Id) ?? throw new InvalidOperationException($"{schema.ElementName} has no attribute {attribute.Id}.");
                if (!parser(spec, text, out var typed, out var reason))
                {
                    failed = true;
                    if (badValues.Add((access.Name, text, attribute.Id)))
                    {
                        problems.Add(Diagnostic.Error(InvalidVariableValueCode,
                            $"Filter '{filter.Name}': value '{text}' of variable {access} is not valid for attribute '{spec.Name}' of <{schema.ElementName}>{(reason is null ? "" : ": " + reason)}.",
                            DiagnosticCategory.InvalidArgument)
                            with { Filter = filter.Name, Element = schema.ElementName, Attribute = spec.Name, Value = text });
                    }
                    continue;
                }
                attributes.Add(new RuleAttribute(attribute.Id, AttributeValue.Of(typed, attribute.Value.Negated)));
            }
            if (failed)
            {
                continue;
            }
            var bindings = ImmutableArray.CreateBuilder<VariableBinding>(accesses.Length);
            for (var i = 0; i < accesses.Length; i++)
            {
                bindings.Add(new VariableBinding(accesses[i], combination[i]));
            }
            built.Add(new RuleInstance(filter.Name, filter.Chain, filter.Priority, rule.Priority, rule with { Attributes = attributes.MoveToImmutable() })
            {
                Bindings = bindings.MoveToImmutable(),
                Combination = built.Count,
                CombinationCount = combinations.Count,
            });
        }
        if (!failed)
        {
            for (var i = 0; i < built.Count; i++)
            {
                output.Add((built[i], OrderKey(ruleIndex, i)));
            }
        }
        return true;
    }

    /// <summary>
    /// A unique sort key in flattening order: rule, then combination. Unique, because Array.Sort is not stable; the
    /// limits (at most <see cref="Limits.MaxRuleInstances"/> rules and combinations) keep it inside an int.
    /// </summary>
    private static int OrderKey(int ruleIndex, int combination) => ruleIndex * (Limits.MaxRuleInstances + 1) + combination;

    private static bool IsAvailable(VariableAccess access, ParameterSet variables) =>
        variables.TryGetValue(access.Name, out var values) && values.Length > 0 &&
        (access.Kind != VariableAccessKind.Element || access.Index < values.Length);

    private static AttributeId AttributeUsing(FilterRule rule, VariableAccess access)
    {
        foreach (var a in rule.Attributes)
        {
            if (a.Value.Variable == access)
            {
                return a.Id;
            }
        }
        throw new InvalidOperationException("The access is not used by the rule.");
    }

    private static Diagnostic MissingVariable(VariableAccess access, FlattenedRule where, AttributeId attribute, string? learningNone)
    {
        var spec = ProtocolSchema.Of(where.Rule.Protocol).Find(attribute);
        var name = access.ToString()[1..];
        var message = access.Kind == VariableAccessKind.Element && where.Variables.TryGetValue(access.Name, out var list)
            ? $"Filter '{where.Filter.Name}': list element {name} is not available ({access.Name} has {list.Length} value(s)), used by attribute '{spec?.Name}'."
            : $"Filter '{where.Filter.Name}': variable {name} is not defined, used by attribute '{spec?.Name}'.";
        if (learningNone is not null)
        {
            message += $" {learningNone} is 'none', so the address is not learned.";
        }
        return Diagnostic.Error(UnresolvedVariableCode, message, DiagnosticCategory.InvalidArgument)
            with { Filter = where.Filter.Name, Element = ProtocolSchema.Of(where.Rule.Protocol).ElementName, Attribute = spec?.Name, Value = name };
    }

    /// <summary>Whether <c>IPV6_ROUTER</c> says the VM is a router; a value other than true or false is reported.</summary>
    private static bool IsRouter(ParameterSet variables, FilterDefinition top, List<Diagnostic> problems)
    {
        if (!variables.TryGetValue(ReservedVariables.IPv6Router, out var values) || values.IsDefaultOrEmpty)
        {
            return false;
        }
        var text = values[0];
        if (values.Length == 1 && string.Equals(text, "true", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (values.Length == 1 && string.Equals(text, "false", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        problems.Add(Diagnostic.Error(InvalidIPv6RouterCode,
            $"Filter '{top.Name}': value '{string.Join(",", values)}' of {ReservedVariables.IPv6Router} is invalid; use true (the VM is an IPv6 router and may send router advertisements and redirects) or false.",
            DiagnosticCategory.InvalidArgument) with { Filter = top.Name, Value = string.Join(",", values) });
        return false;
    }

    private static bool TryParseLearning(ParameterSet variables, string name, out IpLearningMode mode, out string text)
    {
        mode = IpLearningMode.Any;
        text = "any";
        if (!variables.TryGetValue(name, out var values) || values.IsDefaultOrEmpty)
        {
            return true;
        }
        text = values[0];
        switch (text.ToLowerInvariant())
        {
            case "any":
                return true;
            case "dhcp":
                mode = IpLearningMode.Dhcp;
                return true;
            case "none":
                mode = IpLearningMode.None;
                return true;
            default:
                return false;
        }
    }

    /// <summary>A MAC address as libvirt prints it: lower-case, colon-separated.</summary>
    public static string FormatMac(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        return string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }
}
