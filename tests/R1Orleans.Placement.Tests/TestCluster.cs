using R1Orleans.Model;

namespace R1Orleans.Placement.Tests;

/// <summary>Members, layouts, gate choices and the invariants the placement tests check.</summary>
internal static class TestCluster
{
    /// <summary>nodes x silosPerNode members: node "n{i}", silo "S10.0.0.{i}:{11110 + j}:1".</summary>
    public static ClusterMember[] Members(int nodes, int silosPerNode) =>
        [.. Enumerable.Range(0, nodes).SelectMany(n => Enumerable.Range(0, silosPerNode).Select(j => Member(n, j)))];

    public static ClusterMember Member(int node, int silo) => new($"S10.0.0.{node}:{11110 + silo}:1", $"n{node}");

    public static ExpertLayout Layout(int experts, int groups, int topkGroup, int layers = 1) =>
        new(Enumerable.Range(1, layers), experts, groups, topkGroup);

    /// <summary>A gate choice that respects the group limit: topkGroup distinct groups, then k distinct experts within them.</summary>
    public static ExpertRouting GroupLimitedRouting(Random rng, ExpertLayout layout, int tokens, int k)
    {
        var ids = new int[tokens * k];
        int perGroup = layout.ExpertsPerGroup;
        for (int t = 0; t < tokens; t++)
        {
            int[] groups = [.. Enumerable.Range(0, layout.Groups).OrderBy(_ => rng.Next()).Take(layout.TopkGroup)];
            int[] candidates = [.. groups.SelectMany(g => Enumerable.Range(g * perGroup, perGroup))];
            int[] chosen = [.. candidates.OrderBy(_ => rng.Next()).Take(k)];
            chosen.CopyTo(ids, t * k);
        }

        return new ExpertRouting(tokens, k, ids, new float[ids.Length]);
    }

    /// <summary>Every expert of every layer has exactly <paramref name="replicas"/> holders (distinct silos: the map checks that).</summary>
    public static void AssertEveryExpertHeld(PlacementMap map, int replicas)
    {
        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int e = 0; e < map.Layout.Experts; e++)
            {
                IReadOnlyList<SiloId> h = map.Holders(layer, e);
                Assert.Equal(replicas, h.Count);
                Assert.Equal(replicas, h.Distinct().Count());
            }
        }
    }

    /// <summary>All experts of a group's replica r live on one node.</summary>
    public static void AssertGroupAligned(PlacementMap map)
    {
        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int g = 0; g < map.Layout.Groups; g++)
            {
                int replicas = map.HolderIndexes(layer, g * map.Layout.ExpertsPerGroup).Length;
                for (int r = 0; r < replicas; r++)
                {
                    int[] nodes = [.. Enumerable.Range(g * map.Layout.ExpertsPerGroup, map.Layout.ExpertsPerGroup)
                        .Select(e => map.NodeOf(map.HolderIndexes(layer, e)[r])).Distinct()];
                    Assert.True(nodes.Length == 1, $"layer {layer} group {g} replica {r} spans nodes [{string.Join(", ", nodes)}]");
                }
            }
        }
    }

    public static string[] Held(PlacementMap map, ClusterMember member, int layer = 1) =>
        [.. map.ExpertsHeldBy(member.Silo, layer).Select(e => e.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>
    /// The plan dispatches exactly the gate's experts: every (token, slot) once, to a holder of its expert, rows grouped
    /// by expert in token order per destination, and NodesSpanned matches the chosen holders.
    /// </summary>
    public static void AssertPlanMatchesGate(DispatchPlan plan, ExpertRouting routing)
    {
        PlacementMap map = plan.Map;
        var seen = new bool[routing.Tokens * routing.K];
        int rows = 0;
        for (int d = 0; d < plan.DestinationCount; d++)
        {
            ReadOnlySpan<int> tokens = plan.RowTokens(d), slots = plan.RowSlots(d), experts = plan.RowExperts(d);
            Assert.True(tokens.Length > 0);
            for (int i = 0; i < tokens.Length; i++)
            {
                int t = tokens[i], k = slots[i], e = experts[i];
                Assert.Equal(routing.TopkIds[(t * routing.K) + k], e);
                Assert.Contains(plan.DestinationMember(d), map.HolderIndexes(plan.Layer, e).ToArray());
                Assert.Equal(d, plan.DestinationOf(t, k));
                Assert.False(seen[(t * routing.K) + k]);
                seen[(t * routing.K) + k] = true;
                if (i > 0)
                {
                    Assert.True(experts[i - 1] < e || (experts[i - 1] == e && tokens[i - 1] < t), "rows are grouped by expert in token order");
                }
            }

            rows += tokens.Length;
        }

        Assert.Equal(routing.TopkIds.Length, rows);
        for (int t = 0; t < routing.Tokens; t++)
        {
            int nodes = Enumerable.Range(0, routing.K).Select(k => map.NodeOf(plan.HolderOf(t, k))).Distinct().Count();
            Assert.Equal(nodes, plan.NodesSpanned(t));
        }
    }
}
