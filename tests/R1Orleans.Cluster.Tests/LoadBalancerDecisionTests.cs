using R1Orleans.Grains.Balancing;
using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;

namespace R1Orleans.Cluster.Tests;

/// <summary>The load balancer's decision (a plain class) on a cluster started with --expert-replicas 2.</summary>
public sealed class LoadBalancerDecisionTests
{
    private static readonly ExpertLayout s_layout = new([1, 2], 16, 4, 2);

    private static readonly ClusterMember[] s_members =
        [new("S10.0.0.1:1:1", "n0"), new("S10.0.0.1:2:1", "n0"), new("S10.0.0.2:1:1", "n1"), new("S10.0.0.2:2:1", "n1")];

    [Fact]
    public void With_two_replicas_a_rebalance_is_planned_and_keeps_two_copies_of_every_expert_on_two_nodes()
    {
        PlacementMap committed = new PlacementPlanner(s_layout, replicas: 2).Plan(s_members);
        double[] skewed = [.. Enumerable.Range(0, 16).Select(e => e == 5 ? 900.0 : e < 4 ? 0 : 30.0)];
        ExpertLoadEstimate load = ExpertLoadEstimate.FromLoads(s_layout, [skewed, skewed]);

        LoadBalancer.Decision decision = new LoadBalancer(s_layout, redundantExperts: 4, expertReplicas: 2).Decide(committed, false, s_members, load, force: false);

        Assert.Null(decision.Reason);
        EplbPlan plan = Assert.IsType<EplbPlan>(decision.Plan);
        Assert.True(decision.PlannedImbalance < decision.CurrentImbalance, $"{decision.CurrentImbalance} -> {decision.PlannedImbalance}");
        foreach (int layer in s_layout.MoeLayers)
        {
            for (int e = 0; e < 16; e++)
            {
                int[] holders = plan.Map.HolderIndexes(layer, e).ToArray();
                Assert.True(holders.Length >= 2, $"layer {layer} expert {e} has {holders.Length} holder(s)");
                Assert.Equal(2, holders.Select(plan.Map.NodeOf).Distinct().Count());
            }
        }

        Assert.True(plan.Map.Holders(1, 5).Count > 2, "the hot expert got a redundant copy");
    }

    [Fact]
    public void With_more_replicas_than_silos_the_decision_says_why_there_is_no_plan()
    {
        PlacementMap committed = new PlacementPlanner(s_layout, replicas: 2).Plan(s_members);
        ExpertLoadEstimate load = ExpertLoadEstimate.FromLoads(s_layout, [[.. Enumerable.Repeat(1.0, 16)], [.. Enumerable.Repeat(1.0, 16)]]);
        LoadBalancer.Decision decision = new LoadBalancer(s_layout, redundantExperts: 0, expertReplicas: 5).Decide(committed, false, s_members, load, force: true);
        Assert.Null(decision.Plan);
        Assert.Contains("--expert-replicas 5 needs at least 5 silos", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_replicated_map_routed_without_weights_gets_the_planned_weights_as_a_version_that_moves_no_expert()
    {
        // Every expert has two copies (failover), no redundant slot: the best map is the committed one, but until its
        // weights are published each expert's tokens go to one copy, and a hot expert's silo runs them all.
        PlacementMap committed = new PlacementPlanner(s_layout, replicas: 2).Plan(s_members);
        double[] skewed = [.. Enumerable.Range(0, 16).Select(e => e == 5 ? 900.0 : 30.0)];
        ExpertLoadEstimate load = ExpertLoadEstimate.FromLoads(s_layout, [skewed, skewed]);
        var balancer = new LoadBalancer(s_layout, redundantExperts: 0, expertReplicas: 2);

        LoadBalancer.Decision first = balancer.Decide(committed, false, s_members, load, force: false, committedWeights: null);
        EplbPlan plan = Assert.IsType<EplbPlan>(first.Plan);
        Assert.False(plan.Changed);
        Assert.True(plan.Map.SameAssignment(committed));
        Assert.Equal(0, first.LayersChanged);

        // Once those weights are the committed ones, there is nothing to do.
        LoadBalancer.Decision again = balancer.Decide(committed, false, s_members, load, force: false, committedWeights: plan.Weights.ToArray());
        Assert.Null(again.Plan);
        Assert.Contains("nothing to change", again.Reason, StringComparison.Ordinal);

        // Without copies there are no weights to publish.
        PlacementMap single = new PlacementPlanner(s_layout).Plan(s_members);
        LoadBalancer.Decision none = new LoadBalancer(s_layout, 0).Decide(single, false, s_members, ExpertLoadEstimate.FromLoads(s_layout, [[.. Enumerable.Repeat(1.0, 16)], [.. Enumerable.Repeat(1.0, 16)]]), force: false);
        Assert.Null(none.Plan);
    }
}
