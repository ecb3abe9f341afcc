using NwFilter.Core.Learning;

namespace NwFilter.Core.Tests.Learning;

public sealed class RateLimiterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ABurstPassesThenTheRestIsRefused()
    {
        var limiter = new RateLimiter(10, 50);
        Assert.Equal(50, Enumerable.Range(0, 80).Count(_ => limiter.TryAdmit(T0)));
        Assert.Equal(30, limiter.Refused);
    }

    [Fact]
    public void TokensComeBackAtTheRateUpToTheBurst()
    {
        var limiter = new RateLimiter(10, 50);
        for (var i = 0; i < 50; i++)
        {
            limiter.TryAdmit(T0);
        }
        Assert.Equal(5, Enumerable.Range(0, 20).Count(_ => limiter.TryAdmit(T0.AddSeconds(0.5))));
        Assert.Equal(50, Enumerable.Range(0, 100).Count(_ => limiter.TryAdmit(T0.AddHours(1))));
    }

    [Fact]
    public void ASteadyTenPerSecondIsNeverRefused()
    {
        var limiter = new RateLimiter(10, 50);
        Assert.All(Enumerable.Range(0, 1000), i => Assert.True(limiter.TryAdmit(T0.AddMilliseconds(i * 100))));
    }

    [Fact]
    public void TimeGoingBackwardsGivesNothingBack()
    {
        var limiter = new RateLimiter(10, 1);
        Assert.True(limiter.TryAdmit(T0));
        Assert.False(limiter.TryAdmit(T0.AddSeconds(-10)));
        Assert.False(limiter.TryAdmit(T0.AddMilliseconds(50)));
        Assert.True(limiter.TryAdmit(T0.AddMilliseconds(100)));
    }
}
