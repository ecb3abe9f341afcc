using System.Collections.Immutable;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Trace.Kernel;

/// <summary>
/// How a live trace reads the kernel's trace events of one port's filtering rules, one strategy per backend: which
/// events are the port's, and the rule instance (as a trace step) behind each of its rule events. The reader
/// (<see cref="NftLiveTrace.ReadAsync"/>) is the same for every backend.
/// </summary>
internal interface ILiveTraceMapper
{
    /// <summary>True for an event of the port's own filtering chains (the steps of the packet come from these).</summary>
    bool IsPorts(NftTraceEvent e);

    /// <summary>
    /// The step of a rule event of the port's chains, mapped to its rule instance; null for an event that is no rule
    /// instance's (a chain's policy, a jump into a sub-chain, a rule of the chain plumbing).
    /// </summary>
    ValueTask<TraceStep?> StepAsync(NftTraceEvent e, CancellationToken cancellationToken);
}

/// <summary>
/// The nftables backend's mapper: the port's events are those of table <c>nwfilter</c> (its base chains and the port's
/// own chains), and each rule names its rule instance in its provenance comment (<see cref="NftTraceEvents.Step"/>).
/// </summary>
internal sealed class NftCommentTraceMapper : ILiveTraceMapper
{
    private readonly string _port;
    private readonly ImmutableArray<RuleInstance> _instances;

    /// <summary>A mapper for <paramref name="portDevice"/>, whose comments name indexes of <paramref name="instances"/>.</summary>
    public NftCommentTraceMapper(string portDevice, ImmutableArray<RuleInstance> instances)
    {
        _port = portDevice;
        _instances = instances;
    }

    /// <inheritdoc/>
    public bool IsPorts(NftTraceEvent e) =>
        e.Table == "nwfilter" && (NftTraceEvents.PortOf(e.Chain) is not { } port || port == _port);

    /// <inheritdoc/>
    public ValueTask<TraceStep?> StepAsync(NftTraceEvent e, CancellationToken cancellationToken)
    {
        var role = NftTraceEvents.Role(e.Chain);
        var direction = role.StartsWith('I') || role is "FI" or "HI" ? TraceDirection.Out : TraceDirection.In;
        return ValueTask.FromResult(NftTraceEvents.Step(e, _instances, _port, direction));
    }
}
