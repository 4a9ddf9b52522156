using R1Orleans.Placement.Balancing;

namespace R1Orleans.Placement.Tests.Balancing;

/// <summary>Loads and the checks the load-balancing tests share.</summary>
internal static class EplbTestData
{
    /// <summary>One load vector per MoE layer of the layout.</summary>
    public static ExpertLoadEstimate Loads(ExpertLayout layout, params double[][] perLayer) =>
        ExpertLoadEstimate.FromLoads(layout, [.. perLayer.Select(l => (IReadOnlyList<double>)l)]);

    /// <summary>Zipf(s) loads over the experts, in an order shuffled by <paramref name="seed"/> (so hot experts fall in any group).</summary>
    public static double[] Zipf(int experts, double s, int seed)
    {
        var rng = new Random(seed);
        int[] rank = [.. Enumerable.Range(0, experts).OrderBy(_ => rng.Next())];
        return [.. rank.Select(r => 1000.0 / Math.Pow(r + 1, s))];
    }

    /// <summary>Each silo holds at most <paramref name="slots"/> experts of every layer.</summary>
    public static void AssertSlotsRespected(PlacementMap map, int slots)
    {
        foreach (int layer in map.Layout.MoeLayers)
        {
            foreach (ClusterMember m in map.Members)
            {
                int held = map.ExpertsHeldBy(m.Silo, layer).Count;
                Assert.True(held <= slots, $"{m} holds {held} experts of layer {layer}, more than its {slots} slots");
            }
        }
    }

    /// <summary>Every copy of every expert of a group lives on one node.</summary>
    public static void AssertGroupsWholeOnNodes(PlacementMap map)
    {
        int size = map.Layout.ExpertsPerGroup;
        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int g = 0; g < map.Layout.Groups; g++)
            {
                int[] nodes = [.. Enumerable.Range(g * size, size)
                    .SelectMany(e => map.HolderIndexes(layer, e).ToArray())
                    .Select(map.NodeOf)
                    .Distinct()];
                Assert.True(nodes.Length == 1, $"layer {layer} group {g} spans nodes [{string.Join(", ", nodes)}]");
            }
        }
    }
}
