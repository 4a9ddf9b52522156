using R1Orleans.Checkpoint;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests;

public sealed class PlacementPlannerTests
{
    [Fact]
    public void Eight_groups_on_four_nodes_of_two_silos_put_groups_n_and_n_plus_4_on_node_n_alternating_experts_over_its_silos()
    {
        ExpertLayout layout = Layout(256, 8, 4, layers: 2);
        PlacementMap map = new PlacementPlanner(layout).Plan(Members(4, 2));
        AssertEveryExpertHeld(map, 1);
        AssertGroupAligned(map);
        foreach (int layer in layout.MoeLayers)
        {
            for (int n = 0; n < 4; n++)
            {
                for (int j = 0; j < 2; j++)
                {
                    int[] expected = [.. Enumerable.Range(0, 256).Where(e => (e / 32) % 4 == n && e % 2 == j)];
                    Assert.Equal(expected, map.ExpertsHeldBy(Member(n, j).Silo, layer));
                }
            }
        }
    }

    [Fact]
    public void Four_groups_on_three_single_silo_nodes_put_the_fourth_group_beside_the_first()
    {
        PlacementMap map = new PlacementPlanner(Layout(8, 4, 2)).Plan(Members(3, 1));
        Assert.Equal(["0", "1", "6", "7"], Held(map, Member(0, 0)));
        Assert.Equal(["2", "3"], Held(map, Member(1, 0)));
        Assert.Equal(["4", "5"], Held(map, Member(2, 0)));
        AssertGroupAligned(map);
    }

    [Fact]
    public void Four_groups_on_one_node_of_three_silos_spread_the_experts_over_the_silos()
    {
        PlacementMap map = new PlacementPlanner(Layout(8, 4, 2)).Plan(Members(1, 3));
        Assert.Equal(["0", "3", "6"], Held(map, Member(0, 0)));
        Assert.Equal(["1", "4", "7"], Held(map, Member(0, 1)));
        Assert.Equal(["2", "5"], Held(map, Member(0, 2)));
    }

    [Fact]
    public void Ungrouped_experts_are_balanced_over_silos()
    {
        var planner = new PlacementPlanner(Layout(8, 1, 1));
        Assert.Equal(8, planner.UnitsPerLayer);
        PlacementMap map = planner.Plan(Members(3, 1));
        Assert.Equal(["0", "3", "6"], Held(map, Member(0, 0)));
        Assert.Equal(["1", "4", "7"], Held(map, Member(1, 0)));
        Assert.Equal(["2", "5"], Held(map, Member(2, 0)));
        AssertEveryExpertHeld(map, 1);
    }

    [Fact]
    public void The_ungrouped_golden_shape_spreads_24_experts_evenly_over_three_silos_of_every_moe_layer()
    {
        // tiny-noqlora-ungrouped: 3 layers (first_k_dense_replace 1) plus MTP, 24 routed experts, n_group 1.
        ModelConfig config = SyntheticCheckpoint.MediumConfig() with { NumHiddenLayers = 3, NRoutedExperts = 24, NGroup = 1, TopkGroup = 1 };
        PlacementMap map = PlacementPlanner.For(config).Plan(Members(3, 1));
        Assert.Equal([1, 2, 3], map.Layout.MoeLayers);
        foreach (int layer in map.Layout.MoeLayers)
        {
            Assert.All(map.Members, m => Assert.Equal(8, map.ExpertsHeldBy(m.Silo, layer).Count));
        }

        AssertEveryExpertHeld(map, 1);
    }

    [Fact]
    public void One_silo_holds_every_expert_of_every_layer()
    {
        ClusterMember only = Member(0, 0);
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 3)).Plan([only]);
        foreach (int layer in map.Layout.MoeLayers)
        {
            Assert.Equal(Enumerable.Range(0, 16), map.ExpertsHeldBy(only.Silo, layer));
        }

        Assert.Equal([only.Silo], map.SilosInvolved());
    }

    [Fact]
    public void More_nodes_than_groups_keep_groups_whole_and_replicas_fill_the_other_nodes()
    {
        ExpertLayout layout = Layout(16, 4, 2);
        PlacementMap single = new PlacementPlanner(layout).Plan(Members(8, 1));
        AssertGroupAligned(single);
        Assert.Equal(4, single.SilosInvolved().Count);

        PlacementMap doubled = new PlacementPlanner(layout, replicas: 2).Plan(Members(8, 1));
        AssertEveryExpertHeld(doubled, 2);
        AssertGroupAligned(doubled);
        Assert.Equal(8, doubled.SilosInvolved().Count);
    }

    [Fact]
    public void Uneven_nodes_get_groups_in_proportion_to_their_silos()
    {
        // Node n0 has three silos, n1 one: n0 takes 6 of 8 groups, n1 two; every silo ends with 2 groups (8 experts).
        ClusterMember[] members = [.. Members(1, 3), Member(1, 0)];
        PlacementMap map = new PlacementPlanner(Layout(32, 8, 4)).Plan(members);
        AssertGroupAligned(map);
        Assert.All(members, m => Assert.Equal(8, map.ExpertsHeldBy(m.Silo, 1).Count));
        int[] groupsOnN1 = [.. map.ExpertsHeldBy(Member(1, 0).Silo, 1).Select(e => e / 4).Distinct()];
        Assert.Equal([3, 7], groupsOnN1);
    }

    [Fact]
    public void Replicas_of_a_group_live_on_distinct_nodes_when_there_are_enough_nodes()
    {
        ExpertLayout layout = Layout(256, 8, 4);
        PlacementMap map = new PlacementPlanner(layout, replicas: 2).Plan(Members(4, 2));
        AssertEveryExpertHeld(map, 2);
        AssertGroupAligned(map);
        for (int e = 0; e < 256; e++)
        {
            ReadOnlySpan<int> h = map.HolderIndexes(1, e);
            Assert.NotEqual(map.NodeOf(h[0]), map.NodeOf(h[1]));
        }

        // Balanced: 512 expert copies over 8 silos.
        Assert.All(map.Members, m => Assert.Equal(64, map.ExpertsHeldBy(m.Silo, 1).Count));
    }

    [Fact]
    public void With_fewer_nodes_than_replicas_the_replicas_share_a_node_on_distinct_silos()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2), replicas: 3).Plan(Members(2, 2));
        AssertEveryExpertHeld(map, 3);
        AssertGroupAligned(map);
    }

    [Fact]
    public void Fewer_silos_than_replicas_is_an_error_that_names_both()
    {
        var planner = new PlacementPlanner(Layout(16, 4, 2), replicas: 3);
        var error = Assert.Throws<ArgumentException>(() => planner.Plan(Members(2, 1)));
        Assert.Contains("--expert-replicas 3 needs at least 3 silos", error.Message, StringComparison.Ordinal);
        Assert.Contains("the cluster has 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Planning_rejects_an_empty_cluster_and_a_silo_listed_twice()
    {
        var planner = new PlacementPlanner(Layout(16, 4, 2));
        Assert.Throws<ArgumentException>(() => planner.Plan([]));
        Assert.Throws<ArgumentException>(() => planner.Plan([Member(0, 0), Member(0, 0)]));
    }

    [Fact]
    public void The_same_members_in_any_order_give_the_same_map()
    {
        ClusterMember[] members = [.. Members(3, 2), Member(7, 0), Member(5, 3)];
        var rng = new Random(7);
        PlacementMap first = new PlacementPlanner(Layout(64, 8, 4, layers: 2), replicas: 2).Plan(members);
        for (int i = 0; i < 5; i++)
        {
            ClusterMember[] shuffled = [.. members.OrderBy(_ => rng.Next())];
            PlacementMap again = new PlacementPlanner(Layout(64, 8, 4, layers: 2), replicas: 2).Plan(shuffled);
            Assert.True(first.SameAssignment(again));
            Assert.Equal(first, again);
            Assert.Equal(first.ContentHash, again.ContentHash);
        }
    }

    [Fact]
    public void Every_plan_is_a_new_version_with_a_higher_epoch_never_below_the_cluster_generation()
    {
        var planner = new PlacementPlanner(Layout(16, 4, 2));
        PlacementMap v1 = planner.Plan(Members(2, 1));
        Assert.Equal(new PlacementStamp(1, 1), v1.Stamp);
        PlacementMap v2 = planner.Plan(Members(2, 1), v1);
        Assert.Equal(new PlacementStamp(2, 2), v2.Stamp);
        Assert.True(v2.SameAssignment(v1));
        Assert.NotEqual(v1, v2);
        PlacementMap v3 = planner.Plan(Members(2, 1), v2, clusterGeneration: 40);
        Assert.Equal(new PlacementStamp(3, 40), v3.Stamp);
        PlacementMap v4 = planner.Plan(Members(2, 1), v3, clusterGeneration: 12);
        Assert.Equal(new PlacementStamp(4, 41), v4.Stamp);
    }

    [Theory]
    [InlineData(32, 8, 4, 2, 1)]
    [InlineData(32, 8, 4, 2, 2)]
    [InlineData(8, 1, 1, 3, 1)]
    [InlineData(8, 1, 1, 3, 2)]
    [InlineData(16, 4, 3, 1, 2)]
    [InlineData(24, 4, 2, 3, 2)]
    public void Removing_any_one_silo_moves_only_what_it_held(int experts, int groups, int nodes, int silosPerNode, int replicas)
    {
        ExpertLayout layout = Layout(experts, groups, Math.Min(groups, 2), layers: 2);
        ClusterMember[] members = Members(nodes, silosPerNode);
        var planner = new PlacementPlanner(layout, replicas);
        PlacementMap before = planner.Plan(members);
        foreach (ClusterMember gone in members)
        {
            PlacementMap after = planner.Plan(members.Where(m => m != gone), before);
            AssertEveryExpertHeld(after, replicas);
            AssertGroupAligned(after);
            int orphaned = 0;
            foreach (int layer in layout.MoeLayers)
            {
                for (int e = 0; e < layout.Experts; e++)
                {
                    IReadOnlyList<SiloId> was = before.Holders(layer, e), now = after.Holders(layer, e);
                    for (int r = 0; r < replicas; r++)
                    {
                        if (was[r] == gone.Silo)
                        {
                            orphaned++;
                            if (silosPerNode > 1)
                            {
                                // The group's node survives (its other silos), so the orphan stays on that node.
                                Assert.Equal(gone.Node, after.Members[after.IndexOf(now[r])].Node);
                            }
                        }
                        else
                        {
                            Assert.Equal(was[r], now[r]);
                        }
                    }
                }
            }

            PlacementDiff diff = PlacementDiff.Between(before, after);
            Assert.Equal(orphaned, diff.TotalLoads);
            Assert.Equal(orphaned, diff.TotalDrops);
            Assert.Equal(orphaned, diff.Drops(gone.Silo).Count);
        }
    }

    [Fact]
    public void Losing_a_whole_node_moves_its_groups_to_nodes_without_their_other_replica()
    {
        ExpertLayout layout = Layout(32, 8, 4);
        ClusterMember[] members = Members(4, 2);
        var planner = new PlacementPlanner(layout, replicas: 2);
        PlacementMap before = planner.Plan(members);
        PlacementMap after = planner.Plan(members.Where(m => m.Node != new NodeName("n2")), before);
        AssertEveryExpertHeld(after, 2);
        AssertGroupAligned(after);
        for (int e = 0; e < 32; e++)
        {
            ReadOnlySpan<int> h = after.HolderIndexes(1, e);
            Assert.NotEqual(after.NodeOf(h[0]), after.NodeOf(h[1]));
        }

        int onLostNode = before.Members.Where(m => m.Node == new NodeName("n2")).Sum(m => before.ExpertsHeldBy(m.Silo, 1).Count);
        Assert.Equal(onLostNode, PlacementDiff.Between(before, after).TotalLoads);
    }

    [Fact]
    public void A_joining_silo_gets_experts_only_when_rebalancing_and_then_only_the_surplus()
    {
        var planner = new PlacementPlanner(Layout(8, 1, 1));
        PlacementMap before = planner.Plan([Member(0, 0)]);
        ClusterMember[] grown = [Member(0, 0), Member(0, 1)];

        PlacementMap kept = planner.Plan(grown, before);
        Assert.Empty(kept.ExpertsHeldBy(Member(0, 1).Silo, 1));
        Assert.Equal(0, PlacementDiff.Between(before, kept).TotalLoads);

        PlacementMap balanced = planner.Plan(grown, before, rebalance: true);
        Assert.Equal(["0", "1", "2", "3"], Held(balanced, Member(0, 0)));
        Assert.Equal(["4", "5", "6", "7"], Held(balanced, Member(0, 1)));
        Assert.Equal(4, PlacementDiff.Between(before, balanced).TotalLoads);
    }

    [Fact]
    public void Rebalancing_over_new_nodes_moves_whole_groups_and_keeps_the_rest()
    {
        var planner = new PlacementPlanner(Layout(16, 4, 2));
        PlacementMap before = planner.Plan(Members(2, 1));
        PlacementMap after = planner.Plan(Members(4, 1), before, rebalance: true);
        AssertGroupAligned(after);
        Assert.All(after.Members, m => Assert.Equal(4, after.ExpertsHeldBy(m.Silo, 1).Count));

        // Two of four groups move: 8 expert copies.
        Assert.Equal(8, PlacementDiff.Between(before, after).TotalLoads);
    }

    [Fact]
    public void Layout_from_a_config_lists_the_moe_layers_and_the_mtp_layer()
    {
        ModelConfig config = SyntheticCheckpoint.MediumConfig();
        ExpertLayout withMtp = ExpertLayout.From(config);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], withMtp.MoeLayers);
        Assert.Equal(64, withMtp.Experts);
        Assert.Equal(8, withMtp.Groups);
        Assert.Equal(4, withMtp.TopkGroup);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], ExpertLayout.From(config, withMtp: false).MoeLayers);

        PlacementMap map = PlacementPlanner.For(config, replicas: 2).Plan(Members(4, 1));
        AssertEveryExpertHeld(map, 2);
        AssertGroupAligned(map);
    }

    [Fact]
    public void Silos_that_join_one_by_one_with_rebalance_each_get_their_share_even_when_it_does_not_divide()
    {
        // 4 groups joined by 3 silos in turn: the last one gets a group (2, 1, 1), never nothing (2, 2, 0).
        var planner = new PlacementPlanner(Layout(16, 4, 2));
        PlacementMap map = planner.Plan(Members(1, 1));
        map = planner.Plan(Members(2, 1), map, rebalance: true);
        map = planner.Plan(Members(3, 1), map, rebalance: true);

        int[] held = [.. Members(3, 1).Select(m => map.ExpertsHeldBy(m.Silo, 1).Count).Order()];
        Assert.Equal([4, 4, 8], held);
        AssertGroupAligned(map);
    }
}
