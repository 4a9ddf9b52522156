using CsCheck;
using R1Orleans.Placement.Balancing;
using Xunit.Abstractions;
using static R1Orleans.Placement.Tests.Balancing.EplbTestData;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests.Balancing;

/// <summary>
/// EPLB under --expert-replicas R: every expert keeps R copies on distinct silos (distinct nodes while there are at
/// least R nodes) for failover, the redundant slots come on top for the hot experts, and the plan keeps EPLB's
/// invariants (slots, group alignment per node, determinism, hysteresis).
/// </summary>
public sealed class EplbMinimumCopiesTests(ITestOutputHelper output)
{
    /// <summary>
    /// Any cluster (1-4 nodes of 1-3 silos, at least R silos), R of 2-4, grouping, redundant slots, policy and load:
    /// R copies of every expert on distinct silos and min(R, nodes) nodes, no silo over its slots, slots for R copies
    /// plus the redundant ones, groups whole on each node holding them, never worse than without redundant slots, the
    /// same plan twice, weights summing to 1, a replan kept, and R copies again after a silo leaves.
    /// </summary>
    [Fact]
    public void Plans_keep_r_copies_of_every_expert_on_distinct_silos_and_nodes_on_any_cluster_and_load()
    {
        Gen.Select(Gen.Int[1, 3].Array[1, 4], Gen.Int[2, 4], Gen.Int[0, 3], Gen.Int[1, 6], Gen.Int[0, 12], Gen.Bool, Gen.Double[0, 2], Gen.Int).Sample(
            (silosPerNode, replicas, groupPower, perGroup, redundant, global, skew, seed) =>
            {
                if (silosPerNode.Sum() < replicas)
                {
                    return;
                }

                int groups = 1 << groupPower, experts = groups * perGroup;
                ClusterMember[] members = [.. silosPerNode.SelectMany((count, n) => Enumerable.Range(0, count).Select(j => Member(n, j)))];
                ExpertLayout layout = Layout(experts, groups, Math.Max(1, groups / 2), layers: 2);
                var rng = new Random(seed);
                ExpertLoadEstimate load = Loads(layout, [.. Enumerable.Range(0, 2).Select(_ => RandomLoad(rng, experts, skew))]);
                var planner = new EplbPlanner(layout, redundant, global ? EplbPolicy.Global : EplbPolicy.Hierarchical, minReplicas: replicas);

                EplbPlan plan = planner.Plan(members, load);
                AssertMinimumCopies(plan.Map, replicas);
                Assert.True(plan.SlotsPerSilo * members.Length >= (experts * replicas) + redundant, $"{plan.SlotsPerSilo} slots on {members.Length} silos");
                AssertSlotsRespected(plan.Map, plan.SlotsPerSilo);
                if (plan.Policy == EplbPolicy.Hierarchical)
                {
                    Assert.False(global);
                    AssertGroupsWholeOnTheirNodes(plan.Map);
                }

                EplbPlan unreplicated = new EplbPlanner(layout, 0, planner.Policy, minReplicas: replicas).Plan(members, load);
                Assert.True(
                    plan.PlannedImbalance <= unreplicated.PlannedImbalance + 1e-9,
                    $"{redundant} redundant slots: {plan.PlannedImbalance}, none: {unreplicated.PlannedImbalance}");

                EplbPlan again = planner.Plan(members, load);
                Assert.True(plan.Map.SameAssignment(again.Map));
                Assert.Equal(plan.Weights.ToArray(), again.Weights.ToArray());
                foreach (int l in layout.MoeLayers)
                {
                    for (int e = 0; e < experts; e++)
                    {
                        Assert.Equal(1.0, plan.Weights.Of(l, e).ToArray().Sum(), 9);
                    }
                }

                Assert.False(planner.Plan(members, load, plan.Map).Changed);

                // A silo leaves: the next plan, from this one, still keeps R copies where the survivors allow.
                if (members.Length > replicas)
                {
                    EplbPlan after = planner.Plan(members[1..], load, plan.Map);
                    Assert.True(after.Changed);
                    AssertMinimumCopies(after.Map, replicas);
                    AssertSlotsRespected(after.Map, after.SlotsPerSilo);
                }
            },
            iter: 300);
    }

    [Fact]
    public void A_cold_expert_keeps_its_spare_copy_and_the_weights_give_each_copy_a_share()
    {
        // 8 experts in 2 groups, expert 3 idle; 2 nodes of 2 silos, 2 copies each: every group is whole on both nodes.
        ExpertLayout layout = Layout(8, 2, 1);
        EplbPlan plan = new EplbPlanner(layout, redundantExperts: 4, minReplicas: 2).Plan(Members(2, 2), Loads(layout, [10, 1, 1, 0, 4, 4, 2, 2]));
        Assert.Equal(2, plan.Map.Holders(1, 3).Count);
        Assert.Equal(2, plan.Map.HolderIndexes(1, 3).ToArray().Select(plan.Map.NodeOf).Distinct().Count());
        Assert.Equal([0.5, 0.5], plan.Weights.Of(1, 3).ToArray());
        Assert.True(plan.Map.Holders(1, 0).Count > 2, $"the hot expert has {plan.Map.Holders(1, 0).Count} copies");
        Assert.Equal(5, plan.SlotsPerSilo); // (8 x 2 + 4) / 4
        AssertSlotsRespected(plan.Map, 5);
        foreach (int e in new[] { 1, 2, 4, 5, 6, 7 })
        {
            Assert.Equal(1.0, plan.Weights.Of(1, e).ToArray().Sum(), 12);
            Assert.True(plan.Weights.Of(1, e).ToArray().Length >= 2);
        }
    }

    [Fact]
    public void On_one_node_the_copies_go_to_distinct_silos_of_it()
    {
        ExpertLayout layout = Layout(16, 4, 2);
        EplbPlan plan = new EplbPlanner(layout, redundantExperts: 4, minReplicas: 2).Plan(Members(1, 3), Loads(layout, Zipf(16, 1.2, seed: 5)));
        Assert.Equal(EplbPolicy.Hierarchical, plan.Policy);
        AssertMinimumCopies(plan.Map, 2);
        AssertSlotsRespected(plan.Map, plan.SlotsPerSilo);
        Assert.Equal(12, plan.SlotsPerSilo); // (16 x 2 + 4) / 3
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(2.0)]
    public void Redundant_slots_on_top_of_two_copies_lower_the_predicted_imbalance_of_a_skewed_load(double zipf)
    {
        ExpertLayout layout = Layout(256, 8, 4, layers: 4);
        ExpertLoadEstimate load = Loads(layout, [.. Enumerable.Range(0, 4).Select(l => Zipf(256, zipf, seed: 100 + l))]);
        ClusterMember[] members = Members(2, 4); // 256 x 2 copies fill the 8 silos' slots exactly: no spare slot without N
        PlacementMap blind = new PlacementPlanner(layout, replicas: 2).Plan(members);
        double baseline = SiloLoadPrediction.Imbalance(blind, load, SiloLoadPrediction.BalancedWeights(blind, load)) - 1;
        EplbPlan without = new EplbPlanner(layout, 0, minReplicas: 2).Plan(members, load);
        EplbPlan with = new EplbPlanner(layout, 32, minReplicas: 2).Plan(members, load);
        EplbPlan oneCopy = new EplbPlanner(layout, 32).Plan(members, load);
        output.WriteLine(
            $"2 nodes x 4 silos, Zipf {zipf}, (max - mean)/mean by silo: PlacementPlanner R=2 (balanced weights) {baseline:F4}; " +
            $"EPLB R=2 N=0 ({without.SlotsPerSilo}/silo) {without.PlannedImbalance - 1:F4}; R=2 N=32 ({with.SlotsPerSilo}/silo) {with.PlannedImbalance - 1:F4}; " +
            $"R=1 N=32 ({oneCopy.SlotsPerSilo}/silo) {oneCopy.PlannedImbalance - 1:F4}");
        AssertMinimumCopies(with.Map, 2);
        AssertMinimumCopies(without.Map, 2);
        Assert.True(with.PlannedImbalance < without.PlannedImbalance, $"R=2 with 32 redundant slots {with.PlannedImbalance}, without {without.PlannedImbalance}");
        Assert.True(without.PlannedImbalance - 1 <= baseline + 1e-9, $"R=2 EPLB {without.PlannedImbalance - 1} vs load-blind {baseline}");
    }

    [Fact]
    public void Too_few_silos_for_the_copies_is_an_error_that_says_so()
    {
        ExpertLayout layout = Layout(8, 2, 1);
        var planner = new EplbPlanner(layout, minReplicas: 3);
        var e = Assert.Throws<ArgumentException>(() => planner.Plan(Members(2, 1), Loads(layout, [1, 1, 1, 1, 1, 1, 1, 1])));
        Assert.Contains("--expert-replicas 3 needs at least 3 silos", e.Message, StringComparison.Ordinal);
        Assert.Contains("has 2", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EplbPlanner(layout, minReplicas: 0));
    }

    [Fact]
    public void A_failover_placement_with_two_replicas_is_kept_under_a_flat_load()
    {
        // PlacementPlanner's map already balances a flat load: within the hysteresis, nothing moves.
        ExpertLayout layout = Layout(32, 4, 2, layers: 2);
        PlacementMap failover = new PlacementPlanner(layout, replicas: 2).Plan(Members(2, 2));
        double[] flat = [.. Enumerable.Repeat(100.0, 32)];
        EplbPlan plan = new EplbPlanner(layout, redundantExperts: 4, minReplicas: 2).Plan(Members(2, 2), Loads(layout, flat, flat), failover);
        Assert.False(plan.Changed);
        Assert.Same(failover, plan.Map);
    }

    [Fact]
    public void A_map_with_fewer_copies_than_the_minimum_is_replaced_even_within_the_hysteresis()
    {
        ExpertLayout layout = Layout(32, 4, 2);
        ExpertLoadEstimate load = Loads(layout, Zipf(32, 1.0, seed: 3));
        PlacementMap oneCopy = new EplbPlanner(layout, redundantExperts: 4).Plan(Members(2, 2), load).Map;
        EplbPlan plan = new EplbPlanner(layout, redundantExperts: 4, minImprovement: 100, minReplicas: 2).Plan(Members(2, 2), load, oneCopy);
        Assert.True(plan.Changed);
        AssertMinimumCopies(plan.Map, 2);
    }

    /// <summary>Each expert has at least <paramref name="replicas"/> holders (distinct silos: the map checks it) on at least min(R, nodes) nodes.</summary>
    private static void AssertMinimumCopies(PlacementMap map, int replicas)
    {
        int nodes = Enumerable.Range(0, map.MemberCount).Select(map.NodeOf).Distinct().Count();
        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int e = 0; e < map.Layout.Experts; e++)
            {
                int[] h = map.HolderIndexes(layer, e).ToArray();
                Assert.True(h.Length >= replicas, $"layer {layer} expert {e} has {h.Length} copies, fewer than {replicas}");
                Assert.Equal(h.Length, h.Distinct().Count());
                int onNodes = h.Select(map.NodeOf).Distinct().Count();
                Assert.True(onNodes >= Math.Min(replicas, nodes), $"layer {layer} expert {e}: {h.Length} copies on {onNodes} of {nodes} nodes");
            }
        }
    }

    /// <summary>Every node that holds a copy of one of a group's experts holds every expert of the group (the node limit stays the group limit).</summary>
    private static void AssertGroupsWholeOnTheirNodes(PlacementMap map)
    {
        int size = map.Layout.ExpertsPerGroup;
        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int g = 0; g < map.Layout.Groups; g++)
            {
                int[] nodes = [.. map.HolderIndexes(layer, g * size).ToArray().Select(map.NodeOf).Distinct().Order()];
                for (int e = g * size; e < (g + 1) * size; e++)
                {
                    int[] these = [.. map.HolderIndexes(layer, e).ToArray().Select(map.NodeOf).Distinct().Order()];
                    Assert.True(nodes.SequenceEqual(these), $"layer {layer} group {g}: expert {e} on nodes [{string.Join(", ", these)}], expert {g * size} on [{string.Join(", ", nodes)}]");
                }
            }
        }
    }

    private static double[] RandomLoad(Random rng, int experts, double skew) =>
        [.. Enumerable.Range(0, experts).Select(_ => rng.Next(3) == 0 ? 0 : 1000 * Math.Pow(rng.NextDouble(), 1 + (4 * skew)))];
}
