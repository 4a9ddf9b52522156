using CsCheck;
using R1Orleans.Model;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests;

public sealed class PlacementPropertyTests
{
    /// <summary>
    /// Any cluster shape (1-6 nodes of 1-3 silos), any grouping and replica count: every expert is held R times on
    /// distinct silos, on distinct nodes while there are at least R nodes, groups stay whole per node; and removing
    /// silos one by one keeps all of the above and, while at least R nodes remain, every surviving assignment.
    /// </summary>
    [Fact]
    public void Plans_keep_their_invariants_on_any_cluster_and_through_departures()
    {
        Gen.Select(Gen.Int[1, 3].Array[1, 6], Gen.Int[0, 3], Gen.Int[1, 4], Gen.Int[1, 3], Gen.Int).Sample(
            (silosPerNode, groupPower, perGroup, replicas, seed) =>
            {
                int groups = 1 << groupPower;
                ClusterMember[] members = [.. silosPerNode.SelectMany((count, n) => Enumerable.Range(0, count).Select(j => Member(n, j)))];
                var planner = new PlacementPlanner(Layout(groups * perGroup, groups, Math.Min(groups, 2), layers: 2), replicas);
                if (members.Length < replicas)
                {
                    Assert.Throws<ArgumentException>(() => planner.Plan(members));
                    return;
                }

                PlacementMap map = planner.Plan(members);
                var rng = new Random(seed);
                AssertInvariants(map, replicas, rng);
                var alive = members.ToList();
                while (alive.Count > replicas)
                {
                    ClusterMember gone = alive[rng.Next(alive.Count)];
                    alive.Remove(gone);
                    PlacementMap next = planner.Plan(alive, map);
                    AssertInvariants(next, replicas, rng);
                    foreach (int layer in map.Layout.MoeLayers)
                    {
                        for (int e = 0; e < map.Layout.Experts; e++)
                        {
                            IReadOnlyList<SiloId> was = map.Holders(layer, e), now = next.Holders(layer, e);
                            for (int r = 0; r < replicas; r++)
                            {
                                // With fewer nodes than replicas a node may hold more copies of a group than it has silos
                                // left, and one of them has to move; otherwise only the departed silo's share moves.
                                Assert.True(was[r] == gone.Silo || was[r] == now[r] || next.NodeCount < replicas, $"layer {layer} expert {e} replica {r} moved from surviving {was[r]}");
                            }
                        }
                    }

                    AssertInvariants(planner.Plan(alive, next, rebalance: true), replicas, rng);
                    map = next;
                }
            },
            iter: 150);
    }

    /// <summary>The placement invariants, and for grouped layouts the router's: group-limited tokens from any rank stay within topk_group nodes.</summary>
    private static void AssertInvariants(PlacementMap map, int replicas, Random rng)
    {
        AssertEveryExpertHeld(map, replicas);
        if (map.Layout.Groups > 1)
        {
            AssertGroupAligned(map);
            ClusterMember self = map.Members[rng.Next(map.MemberCount)];
            var router = new ExpertRouter(map, self, maxNodesPerToken: map.Layout.TopkGroup);
            ExpertRouting routing = GroupLimitedRouting(rng, map.Layout, tokens: 20, k: Math.Min(3, map.Layout.TopkGroup * map.Layout.ExpertsPerGroup));
            DispatchPlan plan = router.Route(map.Layout.MoeLayers[^1], routing);
            AssertPlanMatchesGate(plan, routing);
            Assert.Equal(0, plan.Violations);
        }

        if (map.NodeCount >= replicas)
        {
            foreach (int layer in map.Layout.MoeLayers)
            {
                for (int e = 0; e < map.Layout.Experts; e++)
                {
                    int[] nodes = [.. map.HolderIndexes(layer, e).ToArray().Select(map.NodeOf)];
                    Assert.Equal(replicas, nodes.Distinct().Count());
                }
            }
        }
    }
}
