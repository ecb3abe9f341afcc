using System.Collections.Immutable;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Apply;

/// <summary>
/// The binding was re-instantiated after its learned addresses changed: with <c>IP</c> (and <c>IPV6</c>) set to them,
/// or, when none is left, with the learning rules again. Reported in the learner's event stream right after its cause.
/// </summary>
/// <param name="PortDevice">The binding's port device.</param>
/// <param name="Time">When the new rules were in force.</param>
/// <param name="Filter">The binding's filter.</param>
/// <param name="IP">The IPv4 addresses the rules now use: the learned ones, or the binding's own <c>IP</c> when only IPv6
/// is learned (empty, with <paramref name="IPv6"/> empty too: the learning rules are back).</param>
/// <param name="IPv6">The learned IPv6 addresses the rules now use (the rules also allow the MAC's link-local address).</param>
/// <param name="ProcessLaunches">Processes the firewall change took (0: the rules were already in force).</param>
/// <param name="Elapsed">How long the firewall change took.</param>
public sealed record ReinstantiationSucceeded(
    string PortDevice,
    DateTimeOffset Time,
    string Filter,
    ImmutableArray<string> IP,
    ImmutableArray<string> IPv6,
    int ProcessLaunches,
    TimeSpan Elapsed) : IpLearningEvent(PortDevice, Time)
{
    /// <summary>True when no address is left and the port carries the learning rules again.</summary>
    public bool LearningRules => IP.IsEmpty && IPv6.IsEmpty;

    /// <inheritdoc/>
    public override string Describe() =>
        LearningRules ? $"no address left: back to the learning rules ({ProcessLaunches} processes, {Elapsed.TotalMilliseconds:0} ms)"
        : ProcessLaunches == 0 ? $"{Filter} already in force with {Values()}"
        : $"re-instantiated {Filter} with {Values()} ({ProcessLaunches} processes, {Elapsed.TotalMilliseconds:0} ms)";

    private string Values() =>
        $"IP={string.Join(",", IP)}" + (IPv6.IsEmpty ? "" : $" IPV6={string.Join(",", IPv6)}");
}

/// <summary>
/// Re-instantiating the binding with its changed addresses failed; the rules in force before stay (the executor swaps
/// all or nothing). In <c>any</c> mode learning then ends Failed; when snooping DHCP it goes on, and the next change
/// tries again.
/// </summary>
/// <param name="PortDevice">The binding's port device.</param>
/// <param name="Time">When it failed.</param>
/// <param name="Filter">The binding's filter.</param>
/// <param name="IP">The IPv4 addresses the rules that could not be applied use, as in <see cref="ReinstantiationSucceeded.IP"/>
/// (empty in a binding that learns IPv4: the learning rules could not be).</param>
/// <param name="Reason">What failed.</param>
/// <param name="Exception">The error, when there was one.</param>
public sealed record ReinstantiationFailed(
    string PortDevice,
    DateTimeOffset Time,
    string Filter,
    ImmutableArray<string> IP,
    string Reason,
    Exception? Exception) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() =>
        $"re-instantiating {Filter} with IP={(IP.IsEmpty ? "(none: learning rules)" : string.Join(",", IP))} failed: {Reason}";
}

/// <summary>Where a binding that learns its address stands, for <c>Get-NwFilterBinding</c>.</summary>
/// <param name="PortDevice">The binding's port device.</param>
/// <param name="Mode">How it learns (<c>CTRL_IP_LEARNING</c>): any or dhcp.</param>
/// <param name="State">The learner's state in this process; <see cref="IpLearningState.NotStarted"/> when no learner of
/// this process watches the port (none was started here, or the process that started it ended) and no address is
/// known, <see cref="IpLearningState.Learned"/> when an <c>any</c>-mode address is stored.</param>
/// <param name="Addresses">The learned addresses: the learner's in this process, else the lease store's.</param>
public sealed record BindingLearningStatus(string PortDevice, IpLearningMode Mode, IpLearningState State, ImmutableArray<LearnedAddress> Addresses)
{
    /// <summary>True when a learner listens to the port now (of this process, or of nwfilterd when <see cref="InDaemon"/>).</summary>
    public bool Listening { get; init; }

    /// <summary>
    /// True when this status is nwfilterd's, read through its control socket (its learners hold the port: the state and
    /// addresses are the daemon's); false when it is this process's.
    /// </summary>
    public bool InDaemon { get; init; }
}
