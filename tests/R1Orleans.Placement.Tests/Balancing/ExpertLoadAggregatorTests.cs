using R1Orleans.Placement.Balancing;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests.Balancing;

public sealed class ExpertLoadAggregatorTests
{
    private static readonly ExpertLayout s_layout = Layout(4, 2, 1, layers: 2);
    private static readonly DateTimeOffset s_t0 = new(2026, 12, 4, 0, 0, 0, TimeSpan.Zero);
    private static readonly SiloId s_a = Member(0, 0).Silo, s_b = Member(1, 0).Silo;

    private static ExpertReplicaLoad C(int layer, int expert, int replica, long tokens) => new(layer, expert, replica, tokens);

    private static ExpertLoadWindow Window(SiloId silo, long number, double seconds, params ExpertReplicaLoad[] counts) =>
        new(silo, number, 3, 3, TimeSpan.FromSeconds(seconds), counts);

    [Fact]
    public void Rates_of_several_silos_sum_per_layer_and_expert_over_replicas()
    {
        var agg = new ExpertLoadAggregator(s_layout);
        agg.Offer(Window(s_a, 1, 2, C(1, 0, 0, 20), C(1, 0, 1, 10), C(2, 3, 0, 4)), s_t0);
        agg.Offer(Window(s_b, 1, 1, C(1, 0, 1, 5), C(1, 1, 0, 7)), s_t0);
        ExpertLoadEstimate est = agg.Estimate(s_t0);
        Assert.Equal(2, est.Silos);
        Assert.Equal(15 + 5, est.Load(1, 0));
        Assert.Equal(7, est.Load(1, 1));
        Assert.Equal(2, est.Load(2, 3));
        Assert.Equal(0, est.Load(2, 0));
    }

    [Fact]
    public void A_silo_that_stops_publishing_drops_out_after_the_stale_time_and_the_estimate_carries_on()
    {
        var agg = new ExpertLoadAggregator(s_layout, smoothing: 1, staleAfter: TimeSpan.FromSeconds(10));
        agg.Offer(Window(s_a, 1, 1, C(1, 0, 0, 10)), s_t0);
        agg.Offer(Window(s_b, 1, 1, C(1, 0, 0, 30)), s_t0);
        agg.Offer(Window(s_a, 2, 1, C(1, 0, 0, 12)), s_t0.AddSeconds(8));

        // b is silent from here on (dead): still counted at 10 s, gone at 11 s.
        Assert.Equal(42, agg.Estimate(s_t0.AddSeconds(10)).Load(1, 0));
        ExpertLoadEstimate later = agg.Estimate(s_t0.AddSeconds(11));
        Assert.Equal(1, later.Silos);
        Assert.Equal(12, later.Load(1, 0));

        // With every silo gone the estimate is empty, not an error, and the planner keeps a current map on it.
        ExpertLoadEstimate none = agg.Estimate(s_t0.AddSeconds(60));
        Assert.Equal(0, none.Silos);
        Assert.Equal(0, none.Total);
        PlacementMap current = new PlacementPlanner(s_layout).Plan(Members(2, 1));
        Assert.Same(current, new EplbPlanner(s_layout, 2).Plan(Members(2, 1), none, current).Map);
    }

    [Fact]
    public void Forgetting_a_dead_silo_drops_it_at_once()
    {
        var agg = new ExpertLoadAggregator(s_layout);
        agg.Offer(Window(s_a, 1, 1, C(1, 2, 0, 10)), s_t0);
        agg.Offer(Window(s_b, 1, 1, C(1, 2, 0, 30)), s_t0);
        Assert.True(agg.Forget(s_b));
        Assert.Equal(10, agg.Estimate(s_t0).Load(1, 2));
        Assert.False(agg.Forget(s_b));
    }

    [Fact]
    public void A_lost_window_is_counted_as_missed_and_the_average_continues_from_the_next()
    {
        var agg = new ExpertLoadAggregator(s_layout, smoothing: 0.5);
        agg.Offer(Window(s_a, 1, 1, C(1, 0, 0, 100)), s_t0);
        agg.Offer(Window(s_a, 4, 1, C(1, 0, 0, 20)), s_t0.AddSeconds(3));
        Assert.Equal(2, agg.WindowsMissed);
        Assert.Equal(60, agg.Estimate(s_t0.AddSeconds(3)).Load(1, 0));
    }

    [Fact]
    public void Duplicate_and_late_windows_are_ignored()
    {
        var agg = new ExpertLoadAggregator(s_layout, smoothing: 1);
        Assert.True(agg.Offer(Window(s_a, 2, 1, C(1, 0, 0, 10)), s_t0));
        Assert.False(agg.Offer(Window(s_a, 2, 1, C(1, 0, 0, 99)), s_t0));
        Assert.False(agg.Offer(Window(s_a, 1, 1, C(1, 0, 0, 99)), s_t0));
        Assert.Equal(2, agg.WindowsIgnored);
        Assert.Equal(10, agg.Estimate(s_t0).Load(1, 0));
    }

    [Fact]
    public void Counts_outside_the_layout_are_left_out_without_failing()
    {
        var agg = new ExpertLoadAggregator(s_layout);
        agg.Offer(Window(s_a, 1, 0, C(7, 0, 0, 10), C(1, 4, 0, 10), C(1, -1, 0, 10), C(1, 1, 0, -5), C(1, 1, 0, 6)), s_t0);
        Assert.Equal(4, agg.CountsIgnored);

        // A window without a duration counts as one second.
        Assert.Equal(6, agg.Estimate(s_t0).Load(1, 1));
    }
}
