using R1Orleans.Transport.Cluster;

namespace R1Orleans.Cluster.Tests;

/// <summary>The fault-injection reply delay: on for a set time, then off by itself.</summary>
public sealed class InjectedReplyDelayTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 4, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void A_delay_applies_for_its_duration_and_then_ends_by_itself()
    {
        var clock = new ManualClock();
        var delay = new InjectedReplyDelay(clock);
        Assert.Equal(TimeSpan.Zero, delay.Current);

        delay.Set(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromMilliseconds(200), delay.Current);
        clock.Now += TimeSpan.FromSeconds(4.9);
        Assert.Equal(TimeSpan.FromMilliseconds(200), delay.Current);
        clock.Now += TimeSpan.FromSeconds(0.2);
        Assert.Equal(TimeSpan.Zero, delay.Current);
    }

    [Fact]
    public void Setting_a_zero_delay_ends_one_in_force()
    {
        var clock = new ManualClock();
        var delay = new InjectedReplyDelay(clock);
        delay.Set(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        delay.Set(TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Assert.Equal(TimeSpan.Zero, delay.Current);
        Assert.True(delay.WaitAsync().IsCompleted);
    }

    [Fact]
    public void A_negative_delay_or_duration_is_refused()
    {
        var delay = new InjectedReplyDelay();
        Assert.Throws<ArgumentOutOfRangeException>(() => delay.Set(TimeSpan.FromMilliseconds(-1), TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => delay.Set(TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(-1)));
    }
}
