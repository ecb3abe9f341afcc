namespace NwFilter.Core.Learning;

/// <summary>
/// A token bucket: on average <c>ratePerSecond</c> admissions, bursts up to <c>burst</c>. The learner keeps one per
/// direction (to the VM, from the VM) as a sanity bound on the DHCP messages it handles; libvirt's snooper bounds
/// them likewise (10 per second, bursts of 50). Time comes from the caller, so tests drive it. Not thread-safe.
/// </summary>
internal sealed class RateLimiter
{
    private readonly double ratePerSecond;
    private readonly double burst;
    private double tokens;
    private DateTimeOffset last;
    private bool started;

    public RateLimiter(double ratePerSecond, int burst)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        this.ratePerSecond = ratePerSecond;
        this.burst = burst;
        tokens = burst;
    }

    /// <summary>How many were refused so far.</summary>
    public long Refused { get; private set; }

    /// <summary>True when one more may pass at <paramref name="now"/> (and takes its token).</summary>
    public bool TryAdmit(DateTimeOffset now)
    {
        if (started && now > last)
        {
            tokens = Math.Min(burst, tokens + ((now - last).TotalSeconds * ratePerSecond));
        }
        if (!started || now > last)
        {
            last = now;
            started = true;
        }
        if (tokens >= 1)
        {
            tokens -= 1;
            return true;
        }
        Refused++;
        return false;
    }
}
