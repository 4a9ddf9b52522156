namespace R1Orleans.Placement.Tests;

public sealed class HolderFenceTests
{
    private static readonly PlacementStamp s_v6 = new(6, 12), s_v7 = new(7, 13);

    [Fact]
    public void A_holder_serves_only_the_versions_it_has_begun()
    {
        var fence = new HolderFence(s_v6);
        fence.Admit(s_v6);
        Assert.True(fence.Serves(s_v6));

        var ahead = Assert.Throws<PlacementFenceException>(() => fence.Admit(s_v7));
        Assert.Equal(FenceRefusal.Ahead, ahead.Reason);
        Assert.Equal(s_v7, ahead.Asked);
        Assert.Equal([s_v6], ahead.Served);
        Assert.Contains("v7 (epoch 13)", ahead.Message, StringComparison.Ordinal);
        Assert.Contains("serves v6 (epoch 12)", ahead.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fresh_holder_refuses_every_step()
    {
        var fence = new HolderFence();
        var refused = Assert.Throws<PlacementFenceException>(() => fence.Admit(s_v6));
        Assert.Contains("nothing yet", refused.Message, StringComparison.Ordinal);
        Assert.Null(fence.Current);
    }

    [Fact]
    public void A_step_with_the_right_version_number_but_a_stale_epoch_is_refused()
    {
        var fence = new HolderFence(s_v6);
        var stale = Assert.Throws<PlacementFenceException>(() => fence.Admit(new PlacementStamp(6, 11)));
        Assert.Equal(FenceRefusal.Stale, stale.Reason);
    }

    [Fact]
    public void During_a_switch_both_versions_are_served_until_the_old_one_is_retired()
    {
        var fence = new HolderFence(s_v6);
        fence.Begin(s_v7);
        Assert.Equal([s_v7, s_v6], fence.Served);
        fence.Admit(s_v6);
        fence.Admit(s_v7);

        Assert.True(fence.Retire(s_v6));
        Assert.False(fence.Retire(s_v6));
        var retired = Assert.Throws<PlacementFenceException>(() => fence.Admit(s_v6));
        Assert.Equal(FenceRefusal.Stale, retired.Reason);
        Assert.Equal(s_v7, fence.Current);
    }

    [Fact]
    public void Begin_refuses_an_epoch_not_above_every_epoch_begun_even_with_a_higher_version()
    {
        var fence = new HolderFence(s_v6);
        fence.Begin(s_v7);
        fence.Retire(s_v6);
        Assert.Equal(FenceRefusal.Stale, Assert.Throws<PlacementFenceException>(() => fence.Begin(new PlacementStamp(8, 13))).Reason);
        Assert.Equal(FenceRefusal.Stale, Assert.Throws<PlacementFenceException>(() => fence.Begin(new PlacementStamp(9, 12))).Reason);

        // The retired version cannot come back either.
        Assert.Throws<PlacementFenceException>(() => fence.Begin(s_v6));
        Assert.Equal([s_v7], fence.Served);
    }

    [Fact]
    public void Begin_is_idempotent_for_the_current_version_and_waits_for_the_previous_one_to_retire()
    {
        var fence = new HolderFence(s_v6);
        fence.Begin(s_v6);
        Assert.Equal([s_v6], fence.Served);
        fence.Begin(s_v7);
        fence.Begin(s_v7);
        Assert.Throws<InvalidOperationException>(() => fence.Begin(new PlacementStamp(8, 14)));
        Assert.Throws<InvalidOperationException>(() => fence.Retire(s_v7));
        fence.Retire(s_v6);
        fence.Begin(new PlacementStamp(8, 14));
        Assert.Equal([new PlacementStamp(8, 14), s_v7], fence.Served);
    }
}

public sealed class PlacementSwitchTests
{
    private static readonly ExpertLayout s_layout = TestCluster.Layout(8, 2, 1);

    [Fact]
    public void A_proposed_map_takes_effect_at_the_next_step_boundary_and_the_old_one_drains()
    {
        var planner = new PlacementPlanner(s_layout);
        PlacementMap v1 = planner.Plan(TestCluster.Members(2, 1));
        PlacementMap v2 = planner.Plan(TestCluster.Members(3, 1), v1, rebalance: true);
        var sw = new PlacementSwitch(v1);

        PlacementMap step1 = sw.BeginStep();
        sw.Propose(v2);
        Assert.Same(v1, sw.Current);
        Assert.False(sw.IsDrained(v1.Stamp));

        PlacementMap step2 = sw.BeginStep();
        Assert.Same(v2, step2);
        Assert.Same(v1, step1);
        Assert.Equal(1, sw.InFlight(v1.Stamp));
        Assert.False(sw.IsDrained(v1.Stamp));

        sw.EndStep(v1.Stamp);
        Assert.True(sw.IsDrained(v1.Stamp));
        Assert.False(sw.IsDrained(v2.Stamp));
        sw.EndStep(v2.Stamp);
        Assert.False(sw.IsDrained(v2.Stamp));
        Assert.Throws<InvalidOperationException>(() => sw.EndStep(v2.Stamp));
    }

    [Fact]
    public void A_stale_proposal_is_refused_and_a_newer_one_replaces_a_pending_one()
    {
        var planner = new PlacementPlanner(s_layout);
        PlacementMap v1 = planner.Plan(TestCluster.Members(2, 1));
        PlacementMap v2 = planner.Plan(TestCluster.Members(2, 1), v1);
        PlacementMap v3 = planner.Plan(TestCluster.Members(2, 1), v2);
        var sw = new PlacementSwitch(v2);
        Assert.Equal(FenceRefusal.Stale, Assert.Throws<PlacementFenceException>(() => sw.Propose(v1)).Reason);
        Assert.Throws<PlacementFenceException>(() => sw.Propose(v2));

        PlacementMap v4 = planner.Plan(TestCluster.Members(2, 1), v3);
        sw.Propose(v3);
        sw.Propose(v4);
        Assert.Throws<PlacementFenceException>(() => sw.Propose(v3));
        Assert.Same(v4, sw.BeginStep());
    }
}
