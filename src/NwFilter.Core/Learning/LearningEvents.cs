using System.Collections.Immutable;
using System.Net;

namespace NwFilter.Core.Learning;

/// <summary>Where a learner is in its life.</summary>
public enum IpLearningState
{
    /// <summary>Created, not started.</summary>
    NotStarted,

    /// <summary>Listening, no address known yet (or, when snooping DHCP, no lease left).</summary>
    Learning,

    /// <summary>At least one address is known. In <c>any</c> mode the learner has stopped listening; in <c>dhcp</c> mode it
    /// keeps listening for renewals, releases and new leases.</summary>
    Learned,

    /// <summary>Stopped by its owner (Stop, binding removed).</summary>
    Stopped,

    /// <summary>Ended by an error (the capture could not be opened, the port device vanished).</summary>
    Failed,
}

/// <summary>What told the learner an address.</summary>
public enum AddressSource
{
    /// <summary>The source address of an IPv4 packet the VM sent.</summary>
    IPv4Packet,

    /// <summary>The sender address of an ARP request or reply the VM sent.</summary>
    Arp,

    /// <summary>A DHCP OFFER or ACK sent to the VM (<c>yiaddr</c>).</summary>
    Dhcp,

    /// <summary>The source address of an IPv6 packet the VM sent.</summary>
    IPv6Packet,

    /// <summary>An IPv6 neighbour advertisement the VM sent for its own address, or its duplicate address detection.</summary>
    Ndp,

    /// <summary>A DHCPv6 REPLY to the VM carrying an address (IA_NA).</summary>
    Dhcpv6,

    /// <summary>Read back from the lease store after a restart.</summary>
    Restored,
}

/// <summary>One address the learner holds for the VM.</summary>
/// <param name="Address">The address (IPv4; IPv6 when IPv6 learning is on).</param>
/// <param name="Source">How it was learned.</param>
/// <param name="LearnedAt">When it was first learned.</param>
/// <param name="Expires">When the DHCP lease ends; null for an address that does not expire (static, infinite lease).</param>
/// <param name="Server">The DHCP server that granted it, when it came from DHCP.</param>
public sealed record LearnedAddress(IPAddress Address, AddressSource Source, DateTimeOffset LearnedAt, DateTimeOffset? Expires, IPAddress? Server)
{
    /// <summary>The address (IPv4; IPv6 when IPv6 learning is on).</summary>
    public IPAddress Address { get; internal init; } = Address;
    /// <summary>How it was learned.</summary>
    public AddressSource Source { get; internal init; } = Source;
    /// <summary>When it was first learned.</summary>
    public DateTimeOffset LearnedAt { get; internal init; } = LearnedAt;
    /// <summary>When the DHCP lease ends; null for an address that does not expire (static, infinite lease).</summary>
    public DateTimeOffset? Expires { get; internal init; } = Expires;
    /// <summary>The DHCP server that granted it, when it came from DHCP.</summary>
    public IPAddress? Server { get; internal init; } = Server;

    /// <summary>True when the address is still valid at <paramref name="now"/>.</summary>
    public bool IsValidAt(DateTimeOffset now) => Expires is not { } end || end > now;

    /// <inheritdoc/>
    public override string ToString() => Expires is { } end ? $"{Address} (until {end:u})" : Address.ToString();
}

/// <summary>
/// Something that happened to a learner, as its job reports it. Every event names the port device it concerns; the
/// binding layer adds its own kinds (re-instantiation done or failed) by deriving from this type.
/// </summary>
/// <param name="PortDevice">The binding's port device.</param>
/// <param name="Time">When it happened (the learner's clock).</param>
public abstract record IpLearningEvent(string PortDevice, DateTimeOffset Time)
{
    /// <summary>A line for a person.</summary>
    public abstract string Describe();

    /// <inheritdoc/>
    public sealed override string ToString() => $"{Time:u} {PortDevice}: {Describe()}";
}

/// <summary>A new address: the first one in <c>any</c> mode, each new lease when snooping DHCP.</summary>
public sealed record AddressLearned(string PortDevice, DateTimeOffset Time, LearnedAddress Address) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => $"learned {Address} from {Address.Source}";
}

/// <summary>A DHCP ACK extended a lease the learner already held.</summary>
public sealed record LeaseRenewed(string PortDevice, DateTimeOffset Time, LearnedAddress Address) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => $"renewed {Address}";
}

/// <summary>A lease ran out without renewal.</summary>
public sealed record LeaseExpired(string PortDevice, DateTimeOffset Time, LearnedAddress Address) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => $"lease of {Address.Address} expired";
}

/// <summary>Why a lease was given up before its end.</summary>
public enum LeaseEndReason
{
    /// <summary>The VM sent DHCPRELEASE.</summary>
    Released,

    /// <summary>The VM sent DHCPDECLINE (the address was in use).</summary>
    Declined,
}

/// <summary>The VM released (or declined) a lease.</summary>
public sealed record LeaseReleased(string PortDevice, DateTimeOffset Time, LearnedAddress Address, LeaseEndReason Reason) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => $"lease of {Address.Address} {(Reason == LeaseEndReason.Released ? "released" : "declined")} by the VM";
}

/// <summary>Leases read back from the lease store when the learner started.</summary>
public sealed record LeasesRestored(string PortDevice, DateTimeOffset Time, ImmutableArray<LearnedAddress> Addresses) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => $"restored {string.Join(", ", Addresses)}";
}

/// <summary>The learner could not go on (capture failed, device gone); it is now <see cref="IpLearningState.Failed"/>.</summary>
public sealed record LearningFailed(string PortDevice, DateTimeOffset Time, string Reason, Exception? Exception) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => $"learning failed: {Reason}";
}

/// <summary>Something the owner should know that does not stop learning (frames over the rate limit, a lease ignored,
/// the lease store not writable).</summary>
public sealed record LearningWarning(string PortDevice, DateTimeOffset Time, string Message, Exception? Exception) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => Message;
}

/// <summary>The address sink threw while handling a change; the change stands (the learner goes on in <c>dhcp</c> mode,
/// and is <see cref="IpLearningState.Failed"/> in <c>any</c> mode, where nothing else will come).</summary>
public sealed record AddressSinkFailed(string PortDevice, DateTimeOffset Time, AddressChange Change, Exception Exception) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => $"applying {string.Join(", ", Change.Addresses.Select(a => a.Address))} failed: {Exception.Message}";
}

/// <summary>The learner stopped listening (its owner stopped it, or <c>any</c> mode found its address).</summary>
public sealed record LearningStopped(string PortDevice, DateTimeOffset Time, IpLearningState FinalState) : IpLearningEvent(PortDevice, Time)
{
    /// <inheritdoc/>
    public override string Describe() => $"stopped ({FinalState})";
}

/// <summary>A change of the learned address set, handed to the <see cref="IAddressSink"/>.</summary>
/// <param name="PortDevice">The binding's port device.</param>
/// <param name="Addresses">Every address now held, in the order learned (empty: nothing left, back to the learning
/// rules).</param>
/// <param name="Cause">The event that changed the set.</param>
public sealed record AddressChange(string PortDevice, ImmutableArray<LearnedAddress> Addresses, IpLearningEvent Cause)
{
    /// <summary>The IPv4 addresses, as the <c>IP</c> variable's values.</summary>
    public ImmutableArray<string> IPv4Values =>
        [.. Addresses.Where(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).Select(a => a.Address.ToString())];

    /// <summary>The IPv6 addresses, as the <c>IPV6</c> variable's values.</summary>
    public ImmutableArray<string> IPv6Values =>
        [.. Addresses.Where(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6).Select(a => a.Address.ToString())];
}

/// <summary>
/// The binding layer's side of learning: told every time the learned address set changes, it re-instantiates the
/// binding (with <c>IP</c> set to the addresses, or back to the learning rules when none are left). Calls come one at
/// a time, in order, from the learner's own task, which waits for each; renewals do not call it (the set is the same).
/// The sink reports its outcome through <see cref="IpLearner.Report"/> (a re-instantiation event) so it lands in the
/// learner's event stream right after its cause; an exception it lets escape becomes an <see cref="AddressSinkFailed"/>.
/// </summary>
public interface IAddressSink
{
    /// <summary>Called with the new address set of the learner's VM; throwing <see cref="AddressChangeRejectedException"/> refuses the change.</summary>
    Task AddressesChangedAsync(IpLearner learner, AddressChange change, CancellationToken cancellationToken);
}

/// <summary>
/// Thrown by an <see cref="IAddressSink"/> that could not take a change and has already reported why, as an event of
/// its own (the binding layer's re-instantiation failure): the learner treats the change as failed (in <c>any</c> mode
/// it ends <see cref="IpLearningState.Failed"/>) without adding an <see cref="AddressSinkFailed"/>.
/// </summary>
public sealed class AddressChangeRejectedException : Exception
{
    /// <summary>A refusal with the default message.</summary>
    public AddressChangeRejectedException()
    {
    }

    /// <summary>A refusal with a message saying why.</summary>
    public AddressChangeRejectedException(string message)
        : base(message)
    {
    }

    /// <summary>A refusal with a message saying why and the error that caused it.</summary>
    public AddressChangeRejectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
