using CsCheck;
using R1Orleans.Placement.Balancing;
using static R1Orleans.Placement.Tests.Balancing.EplbTestData;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests.Balancing;

public sealed class EplbPropertyTests
{
    /// <summary>
    /// Any cluster (1-4 nodes of 1-3 silos), grouping, redundant slots, policy and load (skewed, flat, with idle
    /// experts): every expert is held, copies on distinct silos (the map checks it), no silo over its slots, groups whole
    /// per node under the hierarchical policy, never worse than without redundant slots, and the same plan twice.
    /// </summary>
    [Fact]
    public void Plans_keep_eplbs_invariants_on_any_cluster_and_load()
    {
        Gen.Select(Gen.Int[1, 3].Array[1, 4], Gen.Int[0, 3], Gen.Int[1, 6], Gen.Int[0, 12], Gen.Bool, Gen.Double[0, 2], Gen.Int).Sample(
            (silosPerNode, groupPower, perGroup, redundant, global, skew, seed) =>
            {
                int groups = 1 << groupPower, experts = groups * perGroup;
                ClusterMember[] members = [.. silosPerNode.SelectMany((count, n) => Enumerable.Range(0, count).Select(j => Member(n, j)))];
                ExpertLayout layout = Layout(experts, groups, Math.Max(1, groups / 2), layers: 2);
                var rng = new Random(seed);
                ExpertLoadEstimate load = Loads(layout, [.. Enumerable.Range(0, 2).Select(_ => RandomLoad(rng, experts, skew))]);
                var planner = new EplbPlanner(layout, redundant, global ? EplbPolicy.Global : EplbPolicy.Hierarchical);

                EplbPlan plan = planner.Plan(members, load);
                Assert.All(layout.MoeLayers, l => Assert.All(Enumerable.Range(0, experts), e => Assert.NotEmpty(plan.Map.Holders(l, e))));
                Assert.True(plan.SlotsPerSilo * members.Length >= experts + redundant);
                AssertSlotsRespected(plan.Map, plan.SlotsPerSilo);
                if (plan.Policy == EplbPolicy.Hierarchical)
                {
                    Assert.False(global);
                    AssertGroupsWholeOnNodes(plan.Map);
                }

                EplbPlan unreplicated = new EplbPlanner(layout, 0, planner.Policy).Plan(members, load);
                Assert.True(
                    plan.PlannedImbalance <= unreplicated.PlannedImbalance + 1e-9,
                    $"{redundant} redundant slots: {plan.PlannedImbalance}, none: {unreplicated.PlannedImbalance}");

                EplbPlan again = planner.Plan(members, load);
                Assert.True(plan.Map.SameAssignment(again.Map));
                Assert.Equal(plan.Weights.ToArray(), again.Weights.ToArray());

                // Weights: per expert they sum to 1.
                foreach (int l in layout.MoeLayers)
                {
                    for (int e = 0; e < experts; e++)
                    {
                        Assert.Equal(1.0, plan.Weights.Of(l, e).ToArray().Sum(), 9);
                    }
                }

                // Replanning from the plan with the same loads keeps it.
                Assert.False(planner.Plan(members, load, plan.Map).Changed);
            },
            iter: 200);
    }

    /// <summary>Idle experts (a third of them), the rest uniform in [0, 1) raised to the power 1 + 4·skew (heavier tails).</summary>
    private static double[] RandomLoad(Random rng, int experts, double skew) =>
        [.. Enumerable.Range(0, experts).Select(_ => rng.Next(3) == 0 ? 0 : 1000 * Math.Pow(rng.NextDouble(), 1 + (4 * skew)))];
}
