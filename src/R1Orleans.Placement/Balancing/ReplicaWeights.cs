namespace R1Orleans.Placement.Balancing;

/// <summary>
/// The planned share of an expert's tokens that each of its replicas takes, for one <see cref="PlacementMap"/>: the
/// weights of (layer, expert) sum to 1 and follow the map's holder order (replica 0 first). What the replica router
/// (<see cref="WeightedReplicaPreference"/>) splits tokens by. <see cref="ToArray"/> is aligned with
/// <see cref="PlacementMapData.HolderMembers"/>, the shape to serialize beside the map.
/// </summary>
public sealed class ReplicaWeights
{
    private readonly double[] _weights;

    private ReplicaWeights(PlacementMap map, double[] weights)
    {
        Map = map;
        _weights = weights;
    }

    /// <summary>The placement the weights belong to.</summary>
    public PlacementMap Map { get; }

    /// <summary>Equal shares among every expert's replicas.</summary>
    public static ReplicaWeights Uniform(PlacementMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        int[] offsets = map.HolderOffsets;
        var w = new double[map.HolderMembers.Length];
        for (int i = 0; i + 1 < offsets.Length; i++)
        {
            int n = offsets[i + 1] - offsets[i];
            w.AsSpan(offsets[i], n).Fill(1.0 / n);
        }

        return new ReplicaWeights(map, w);
    }

    /// <summary>
    /// Weights read back from <see cref="ToArray"/>'s shape. Each expert's weights are normalized to sum to 1; an expert
    /// whose weights are all zero, negative or not finite gets equal shares.
    /// </summary>
    public static ReplicaWeights FromArray(PlacementMap map, IReadOnlyList<double> weights)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(weights);
        int[] offsets = map.HolderOffsets;
        if (weights.Count != map.HolderMembers.Length)
        {
            throw new ArgumentException($"{weights.Count} weights for a placement of {map.HolderMembers.Length} holders", nameof(weights));
        }

        var w = new double[weights.Count];
        for (int i = 0; i + 1 < offsets.Length; i++)
        {
            double sum = 0;
            for (int h = offsets[i]; h < offsets[i + 1]; h++)
            {
                w[h] = ExpertLoadEstimate.Clean(weights[h]);
                sum += w[h];
            }

            for (int h = offsets[i]; h < offsets[i + 1]; h++)
            {
                w[h] = sum > 0 ? w[h] / sum : 1.0 / (offsets[i + 1] - offsets[i]);
            }
        }

        return new ReplicaWeights(map, w);
    }

    /// <summary>The weights of (layer, expert)'s replicas, in the map's holder order.</summary>
    public ReadOnlySpan<double> Of(int layer, int expert)
    {
        if (!Map.HasLayer(layer) || (uint)expert >= (uint)Map.Layout.Experts)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} expert {expert} is not in placement {Map.Stamp}");
        }

        int slot = (Map.LayerIndex(layer) * Map.Layout.Experts) + expert;

        return _weights.AsSpan(Map.HolderOffsets[slot], Map.HolderOffsets[slot + 1] - Map.HolderOffsets[slot]);
    }

    /// <summary>The weights in the order of <see cref="PlacementMapData.HolderMembers"/>.</summary>
    public double[] ToArray() => [.. _weights];

    internal ReadOnlySpan<double> Flat => _weights;
}
