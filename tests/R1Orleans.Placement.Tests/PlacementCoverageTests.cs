using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests;

public sealed class PlacementCoverageTests
{
    [Fact]
    public void Every_expert_is_covered_while_every_holder_lives()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas: 1).Plan(Members(2, 2));
        Assert.Null(PlacementCoverage.FirstUncovered(map, _ => true));
        Assert.Null(PlacementCoverage.Describe(map, _ => true));
    }

    [Fact]
    public void Without_replicas_a_dead_holder_uncovers_the_first_expert_it_held()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas: 1).Plan(Members(2, 2));
        SiloId dead = map.Member(1).Silo;
        int layer = map.Layout.MoeLayers[0];
        int first = map.ExpertsHeldBy(dead, layer)[0];
        Assert.Equal((layer, first), PlacementCoverage.FirstUncovered(map, s => s != dead));
        Assert.Contains($"layer {layer} expert {first} has no live holder (held by {dead})", PlacementCoverage.Describe(map, s => s != dead), StringComparison.Ordinal);
    }

    [Fact]
    public void With_two_replicas_any_one_dead_silo_leaves_every_expert_covered()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas: 2).Plan(Members(2, 2));
        for (int m = 0; m < map.MemberCount; m++)
        {
            SiloId dead = map.Member(m).Silo;
            Assert.Null(PlacementCoverage.FirstUncovered(map, s => s != dead));
        }

        Assert.NotNull(PlacementCoverage.FirstUncovered(map, _ => false));
    }
}

public sealed class PlacementExclusionTests
{
    [Fact]
    public void Excluding_a_suspect_keeps_the_stamp_and_drops_it_wherever_a_replica_remains()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas: 2).Plan(Members(2, 2));
        SiloId suspect = map.Member(0).Silo;
        PlacementMap avoided = map.Excluding([suspect]);
        Assert.Equal(map.Stamp, avoided.Stamp);
        Assert.Equal(map.Members, avoided.Members);
        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int e = 0; e < map.Layout.Experts; e++)
            {
                Assert.Equal(map.Holders(layer, e).Where(h => h != suspect), avoided.Holders(layer, e));
            }
        }
    }

    [Fact]
    public void An_expert_held_only_by_suspects_keeps_its_holders_and_no_suspect_is_the_same_map()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas: 1).Plan(Members(2, 2));
        SiloId suspect = map.Member(1).Silo;
        PlacementMap avoided = map.Excluding([suspect]);
        int layer = map.Layout.MoeLayers[0];
        int only = map.ExpertsHeldBy(suspect, layer)[0];
        Assert.Equal([suspect], avoided.Holders(layer, only));
        Assert.Same(map, map.Excluding([]));
        Assert.Same(map, map.Excluding([new SiloId("not-a-member")]));
    }
}

public sealed class HolderFenceKeepingTests
{
    [Fact]
    public void A_pending_version_superseded_before_its_commit_is_dropped_and_the_committed_one_stays_served()
    {
        var committed = new PlacementStamp(4, 5);
        var fence = new HolderFence(committed);
        var pending = new PlacementStamp(5, 6);
        fence.BeginKeeping(pending, committed);
        Assert.Equal([pending, committed], fence.Served);

        // The directory lost its state and plans again from version 1, above the epochs served.
        var replanned = new PlacementStamp(1, 8);
        fence.BeginKeeping(replanned, committed);
        Assert.Equal([replanned, committed], fence.Served);
        Assert.False(fence.Serves(pending));
        fence.Admit(committed);
        Assert.Throws<PlacementFenceException>(() => fence.BeginKeeping(new PlacementStamp(9, 7), committed));
    }

    [Fact]
    public void Without_a_committed_version_to_keep_the_current_one_is_left_draining()
    {
        var first = new PlacementStamp(1, 1);
        var fence = new HolderFence(first);
        var next = new PlacementStamp(2, 2);
        fence.BeginKeeping(next, null);
        Assert.Equal([next, first], fence.Served);
    }
}
