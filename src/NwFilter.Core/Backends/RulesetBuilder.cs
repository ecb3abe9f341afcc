using System.Collections.Immutable;
using System.Net.NetworkInformation;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Backends;

/// <summary>How <see cref="RulesetBuilder"/> works.</summary>
public sealed record RulesetOptions
{
    /// <summary>The defaults: the schema's value parser and an empty simulated host.</summary>
    public static RulesetOptions Default { get; } = new();

    /// <summary>How variables are resolved (the value parser).</summary>
    public ResolveOptions Resolve { get; internal init; } = ResolveOptions.Default;

    /// <summary>The host assumed when the plan's queries are expanded into <see cref="Ruleset.Commands"/>.</summary>
    public SimulatedHost Host { get; internal init; } = SimulatedHost.Empty;
}

/// <summary>
/// A filter compiled for one interface: the rule instances, the backend's plan, and the commands the plan runs on the
/// assumed host. <see cref="ToString"/> gives them as shell lines.
/// </summary>
/// <param name="Resolution">The resolved rule instances (or the IP-learning status).</param>
/// <param name="Plan">The plan for applying the new rules; null while the IP address must be learned first.</param>
/// <param name="Commands">Every command of <paramref name="Plan"/> in execution order, queries answered by the host.</param>
public sealed record Ruleset(Resolution.Resolution Resolution, FirewallPlan? Plan, ImmutableArray<FirewallCommand> Commands)
{
    /// <summary>The resolved rule instances (or the IP-learning status).</summary>
    public Resolution.Resolution Resolution { get; internal init; } = Resolution;
    /// <summary>The plan for applying the new rules; null while the IP address must be learned first.</summary>
    public FirewallPlan? Plan { get; internal init; } = Plan;
    /// <summary>Every command of <see cref="Plan"/> in execution order, queries answered by the host.</summary>
    public ImmutableArray<FirewallCommand> Commands { get; internal init; } = Commands;

    /// <summary>The resolved rule instances, in libvirt's order.</summary>
    public ImmutableArray<RuleInstance> Instances => Resolution.Instances;

    /// <summary>True when the only missing variable is IP and it is to be learned (nothing to apply yet).</summary>
    public bool NeedsIpLearning => Resolution.Status == ResolutionStatus.NeedsIpLearning;

    /// <summary>The commands in libvirt's dry-run recorder format.</summary>
    public string ToRecordedText() => CommandPrinter.Recorded(Commands);

    /// <summary>The commands as shell lines, one per line.</summary>
    public override string ToString() => CommandPrinter.ShellLines(Commands);
}

/// <summary>
/// The whole compile for one interface: resolve the filter tree with the binding's parameters, plan the backend's
/// commands, expand them on the assumed host. Pure: nothing touches the host.
/// </summary>
public static class RulesetBuilder
{
    /// <summary>Builds the ruleset of the filter named <paramref name="filterName"/>.</summary>
    public static Ruleset Build(IFilterSource source, string filterName, string portDevice, PhysicalAddress? mac,
        ParameterSet parameters, FirewallBackendKind backend = FirewallBackendKind.EbIpTables, RulesetOptions? options = null)
    {
        options ??= RulesetOptions.Default;
        var resolution = FilterResolver.Resolve(source, filterName, parameters, mac, options.Resolve);
        return Compile(resolution, portDevice, backend, options);
    }

    /// <summary>Builds the ruleset of <paramref name="filter"/> (its references looked up in <paramref name="source"/>).</summary>
    public static Ruleset Build(IFilterSource source, FilterDefinition filter, string portDevice, PhysicalAddress? mac,
        ParameterSet parameters, FirewallBackendKind backend = FirewallBackendKind.EbIpTables, RulesetOptions? options = null)
    {
        options ??= RulesetOptions.Default;
        var resolution = FilterResolver.Resolve(source, filter, parameters, mac, options.Resolve);
        return Compile(resolution, portDevice, backend, options);
    }

    /// <summary>The resolution alone, without a plan or commands (for a backend that compiles from the instances).</summary>
    internal static Ruleset Resolve(IFilterSource source, string filterName, PhysicalAddress? mac, ParameterSet parameters) =>
        new(FilterResolver.Resolve(source, filterName, parameters, mac, RulesetOptions.Default.Resolve), null, []);

    /// <summary>Plans and expands an existing resolution.</summary>
    public static Ruleset Compile(Resolution.Resolution resolution, string portDevice, FirewallBackendKind backend = FirewallBackendKind.EbIpTables, RulesetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(resolution);
        options ??= RulesetOptions.Default;
        if (resolution.Status == ResolutionStatus.NeedsIpLearning)
        {
            return new Ruleset(resolution, null, []);
        }
        var plan = FirewallBackends.Get(backend).ApplyNewRules(portDevice, resolution.Instances);
        return new Ruleset(resolution, plan, DryRunRecorder.Run(plan, options.Host));
    }
}
