using R1Orleans.Placement.Balancing;
using static R1Orleans.Placement.Tests.Balancing.EplbTestData;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests.Balancing;

public sealed class EplbPlannerTests
{
    // 8 experts in 2 groups; group 0 carries the hot expert 0.
    private static readonly double[] s_skewed = [10, 1, 1, 1, 4, 4, 2, 2];

    [Fact]
    public void Hierarchical_plan_of_eight_experts_on_two_nodes_of_two_silos_with_four_redundant_slots_is_the_hand_computed_map()
    {
        // 12 slots, 3 per silo. Groups: 0 (load 13) to node 0, 1 (12) to node 1. Node 0 replicates expert 0 (10) and
        // then expert 1 (first of the 1s; expert 0 is on both silos already); copies 5, 5, 1, 1, 0.5, 0.5 go heaviest
        // first to the lighter silo: {0, 2, 1} and {0, 3, 1}, 6.5 each. Node 1 replicates 4 and 5 and gets {4, 5, 6},
        // {4, 5, 7}, 6 each.
        ExpertLayout layout = Layout(8, 2, 1);
        var planner = new EplbPlanner(layout, redundantExperts: 4);
        EplbPlan plan = planner.Plan(Members(2, 2), Loads(layout, s_skewed));

        Assert.Equal(EplbPolicy.Hierarchical, plan.Policy);
        Assert.Equal(3, plan.SlotsPerSilo);
        Assert.Equal(["0", "1", "2"], Held(plan.Map, Member(0, 0)));
        Assert.Equal(["0", "1", "3"], Held(plan.Map, Member(0, 1)));
        Assert.Equal(["4", "5", "6"], Held(plan.Map, Member(1, 0)));
        Assert.Equal(["4", "5", "7"], Held(plan.Map, Member(1, 1)));
        Assert.Equal([Member(0, 0).Silo, Member(0, 1).Silo], plan.Map.Holders(1, 0));
        Assert.Equal([0.5, 0.5], plan.Weights.Of(1, 0).ToArray());

        // Silo loads 6.5, 6.5, 6, 6: max / mean = 6.5 / 6.25.
        Assert.Equal(6.5 / 6.25, plan.PlannedImbalance, 12);
        Assert.Equal(1, plan.Map.Version);
        Assert.Equal(1, plan.Map.Epoch);
        Assert.True(plan.Changed);
        Assert.True(double.IsNaN(plan.CurrentImbalance));
    }

    [Fact]
    public void Without_redundant_slots_the_same_load_packs_the_hot_expert_with_the_coldest_ones()
    {
        // 2 slots per silo: node 0 gets {0, 3} (11) and {1, 2} (2): nothing to split expert 0 with.
        ExpertLayout layout = Layout(8, 2, 1);
        EplbPlan plan = new EplbPlanner(layout).Plan(Members(2, 2), Loads(layout, s_skewed));
        Assert.Equal(["0", "3"], Held(plan.Map, Member(0, 0)));
        Assert.Equal(["1", "2"], Held(plan.Map, Member(0, 1)));
        Assert.Equal(["4", "6"], Held(plan.Map, Member(1, 0)));
        Assert.Equal(["5", "7"], Held(plan.Map, Member(1, 1)));
        Assert.Equal(11 / 6.25, plan.PlannedImbalance, 12);
    }

    [Fact]
    public void Global_policy_replicates_the_hot_expert_across_nodes_and_balances_better_than_hierarchical()
    {
        // 12 slots over 4 silos ignoring groups: expert 0 gets three copies, 4 and 5 two each.
        ExpertLayout layout = Layout(8, 2, 1);
        EplbPlan global = new EplbPlanner(layout, 4, EplbPolicy.Global).Plan(Members(2, 2), Loads(layout, s_skewed));
        EplbPlan hierarchical = new EplbPlanner(layout, 4).Plan(Members(2, 2), Loads(layout, s_skewed));
        Assert.Equal(EplbPolicy.Global, global.Policy);
        Assert.Equal(3, global.Map.Holders(1, 0).Count);
        Assert.Equal(2, global.Map.Holders(1, 4).Count);
        Assert.Equal(2, global.Map.Holders(1, 5).Count);
        Assert.Equal(2, global.Map.HolderIndexes(1, 0).ToArray().Select(global.Map.NodeOf).Distinct().Count());
        AssertSlotsRespected(global.Map, 3);
        Assert.True(global.PlannedImbalance < hierarchical.PlannedImbalance, $"global {global.PlannedImbalance} vs hierarchical {hierarchical.PlannedImbalance}");
        Assert.True(global.PlannedImbalance < 1.01, $"global {global.PlannedImbalance}");
    }

    [Fact]
    public void Hierarchical_falls_back_to_global_without_groups_or_with_fewer_groups_than_nodes()
    {
        Assert.Equal(EplbPolicy.Global, new EplbPlanner(Layout(8, 1, 1)).PolicyFor(Members(2, 1)));
        Assert.Equal(EplbPolicy.Global, new EplbPlanner(Layout(8, 2, 1)).PolicyFor(Members(3, 1)));
        Assert.Equal(EplbPolicy.Hierarchical, new EplbPlanner(Layout(8, 2, 1)).PolicyFor(Members(2, 1)));
    }

    [Fact]
    public void Slots_per_silo_round_up_to_equal_shares_and_until_whole_groups_fit_each_node()
    {
        // 256 experts over 6 silos: ceil(256 / 6) = 43.
        Assert.Equal(43, new EplbPlanner(Layout(256, 8, 4)).SlotsPerSilo(Members(2, 3)));
        Assert.Equal(48, new EplbPlanner(Layout(256, 8, 4), 32).SlotsPerSilo(Members(2, 3)));

        // Nodes of 2 and 1 silos: quotas 5 and 3 groups of 32 need 96 slots on the lone silo.
        ClusterMember[] uneven = [Member(0, 0), Member(0, 1), Member(1, 0)];
        Assert.Equal(96, new EplbPlanner(Layout(256, 8, 4)).SlotsPerSilo(uneven));
        Assert.Equal(86, new EplbPlanner(Layout(256, 8, 4), policy: EplbPolicy.Global).SlotsPerSilo(uneven));
    }

    [Fact]
    public void A_small_perturbation_of_the_loads_keeps_the_current_map_and_only_updates_the_weights()
    {
        ExpertLayout layout = Layout(32, 4, 2, layers: 2);
        double[] a = Zipf(32, 1.0, seed: 1), b = Zipf(32, 1.0, seed: 2);
        var planner = new EplbPlanner(layout, redundantExperts: 4);
        EplbPlan first = planner.Plan(Members(2, 2), Loads(layout, a, b));

        var rng = new Random(7);
        double[] Noisy(double[] l) => [.. l.Select(v => v * (1 + ((rng.NextDouble() - 0.5) * 0.04)))];
        EplbPlan again = planner.Plan(Members(2, 2), Loads(layout, Noisy(a), Noisy(b)), first.Map);

        Assert.False(again.Changed);
        Assert.Same(first.Map, again.Map);
        Assert.Equal(0, again.LayersChanged);
        Assert.Same(first.Map, again.Weights.Map);
    }

    [Fact]
    public void Replanning_with_the_same_loads_changes_nothing()
    {
        ExpertLayout layout = Layout(64, 8, 4, layers: 3);
        ExpertLoadEstimate load = Loads(layout, Zipf(64, 1.2, 1), Zipf(64, 1.2, 2), Zipf(64, 1.2, 3));
        var planner = new EplbPlanner(layout, redundantExperts: 8, minImprovement: 0);
        EplbPlan first = planner.Plan(Members(2, 3), load);
        EplbPlan second = planner.Plan(Members(2, 3), load, first.Map);
        Assert.False(second.Changed);
        Assert.Equal(first.PlannedImbalance, second.PlannedImbalance, 12);
    }

    [Fact]
    public void A_shift_of_the_hot_experts_is_adopted_as_the_next_version_and_epoch()
    {
        ExpertLayout layout = Layout(32, 4, 2);
        var planner = new EplbPlanner(layout, redundantExperts: 4);
        EplbPlan first = planner.Plan(Members(2, 2), Loads(layout, Zipf(32, 1.5, seed: 1)), clusterGeneration: 5);
        Assert.Equal(5, first.Map.Epoch);

        EplbPlan next = planner.Plan(Members(2, 2), Loads(layout, Zipf(32, 1.5, seed: 9)), first.Map);
        Assert.True(next.Changed);
        Assert.Equal(1, next.LayersChanged);
        Assert.Equal(2, next.Map.Version);
        Assert.Equal(6, next.Map.Epoch);
        Assert.True(next.CurrentImbalance - next.PlannedImbalance > planner.MinImprovement, $"{next.CurrentImbalance} → {next.PlannedImbalance}");
    }

    [Fact]
    public void Only_the_layer_whose_load_moved_is_replanned()
    {
        ExpertLayout layout = Layout(32, 4, 2, layers: 2);
        double[] steady = Zipf(32, 1.5, seed: 1);
        var planner = new EplbPlanner(layout, redundantExperts: 4);
        EplbPlan first = planner.Plan(Members(2, 2), Loads(layout, steady, Zipf(32, 1.5, seed: 2)));
        EplbPlan next = planner.Plan(Members(2, 2), Loads(layout, steady, Zipf(32, 1.5, seed: 3)), first.Map);
        Assert.True(next.Changed);
        Assert.Equal(1, next.LayersChanged);
        for (int e = 0; e < 32; e++)
        {
            Assert.Equal(first.Map.Holders(1, e), next.Map.Holders(1, e));
        }
    }

    [Fact]
    public void A_plan_that_moves_keeps_interchangeable_silos_where_their_experts_were()
    {
        // A plan whose silos and nodes were relabelled (node 0 ↔ node 1, silo 0 ↔ silo 1), then the coldest expert
        // turns as hot as the hottest: the new plan lands its bins on the silos that held their experts, so it keeps more in place than
        // the same plan made without a current map, at the same predicted balance.
        ExpertLayout layout = Layout(32, 4, 2);
        ExpertLoadEstimate load = Loads(layout, Zipf(32, 1.3, seed: 4));
        var planner = new EplbPlanner(layout, redundantExperts: 4);
        PlacementMap planned = planner.Plan(Members(2, 2), load).Map;
        int[] swap = [3, 2, 1, 0];
        PlacementMap swapped = PlacementMap.Create(1, 1, Members(2, 2), layout, [
            [.. Enumerable.Range(0, 32).Select(e => (IReadOnlyList<SiloId>)[.. planned.HolderIndexes(1, e).ToArray().Select(m => planned.Member(swap[m]).Silo)])],
        ]);

        double[] a = Zipf(32, 1.3, seed: 4);
        int coldest = Array.IndexOf(a, a.Min());
        ExpertLoadEstimate hotter = Loads(layout, [.. a.Select((v, e) => e == coldest ? a.Max() : v)]);
        EplbPlan again = new EplbPlanner(layout, redundantExperts: 4, minImprovement: 0).Plan(Members(2, 2), hotter, swapped);
        EplbPlan fresh = new EplbPlanner(layout, redundantExperts: 4, minImprovement: 0).Plan(Members(2, 2), hotter);
        Assert.True(again.Changed, $"{again.CurrentImbalance} → {again.PlannedImbalance}");
        Assert.True(Kept(swapped, again.Map) > Kept(swapped, fresh.Map), $"kept {Kept(swapped, again.Map)} with the current map, {Kept(swapped, fresh.Map)} without");
        Assert.Equal(fresh.PlannedImbalance, again.PlannedImbalance, 9);

        static int Kept(PlacementMap before, PlacementMap after) =>
            Enumerable.Range(0, 32).Sum(e => before.Holders(1, e).Intersect(after.Holders(1, e)).Count());
    }

    [Fact]
    public void The_same_inputs_give_the_same_plan()
    {
        ExpertLayout layout = Layout(64, 8, 4, layers: 2);
        ExpertLoadEstimate load = Loads(layout, Zipf(64, 1.1, 1), Zipf(64, 0.8, 2));
        ClusterMember[] members = Members(2, 3);
        EplbPlan a = new EplbPlanner(layout, 10).Plan(members, load);
        EplbPlan b = new EplbPlanner(layout, 10).Plan(members.Reverse(), load);
        Assert.True(a.Map.SameAssignment(b.Map));
        Assert.Equal(a.Weights.ToArray(), b.Weights.ToArray());
    }

    [Fact]
    public void With_no_load_measured_the_current_map_is_kept_and_a_fresh_plan_holds_each_expert_once()
    {
        ExpertLayout layout = Layout(16, 4, 2);
        PlacementMap current = new PlacementPlanner(layout).Plan(Members(2, 2));
        var planner = new EplbPlanner(layout, redundantExperts: 8);
        EplbPlan kept = planner.Plan(Members(2, 2), ExpertLoadEstimate.Empty(layout), current);
        Assert.False(kept.Changed);
        Assert.Same(current, kept.Map);

        EplbPlan fresh = planner.Plan(Members(2, 2), ExpertLoadEstimate.Empty(layout));
        AssertEveryExpertHeld(fresh.Map, 1);
        Assert.Equal(1.0, fresh.PlannedImbalance);
    }

    [Fact]
    public void A_departed_silo_forces_a_new_map_without_it()
    {
        ExpertLayout layout = Layout(16, 4, 2);
        ExpertLoadEstimate load = Loads(layout, Zipf(16, 1, 3));
        var planner = new EplbPlanner(layout, redundantExperts: 2);
        EplbPlan first = planner.Plan(Members(2, 2), load);
        ClusterMember[] left = [.. Members(2, 2).Where(m => m != Member(1, 1))];
        EplbPlan next = planner.Plan(left, load, first.Map);
        Assert.True(next.Changed);
        Assert.Equal(-1, next.Map.IndexOf(Member(1, 1).Silo));
        Assert.All(Enumerable.Range(0, 16), e => Assert.NotEmpty(next.Map.Holders(1, e)));
        AssertGroupsWholeOnNodes(next.Map);
    }
}
