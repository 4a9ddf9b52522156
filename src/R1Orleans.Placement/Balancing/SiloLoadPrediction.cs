namespace R1Orleans.Placement.Balancing;

/// <summary>
/// What a placement and its replica weights make of a load estimate: the load each silo runs per MoE layer, and the
/// imbalance that sets a step's pace. A layer's step waits for its most loaded silo, so the imbalance of a map is
/// Σ over layers of the max silo load over Σ of the mean silo load (1 is perfect; (max − mean)/mean is that minus 1).
/// The mean is over every member of the map, holders or not.
/// </summary>
public static class SiloLoadPrediction
{
    /// <summary>The load per member (map order) of one layer, with <paramref name="weights"/> (equal shares when null).</summary>
    public static double[] Predict(PlacementMap map, ExpertLoadEstimate load, int layer, ReplicaWeights? weights = null)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(load);
        weights ??= ReplicaWeights.Uniform(map);
        if (!ReferenceEquals(weights.Map, map) && !weights.Map.SameAssignment(map))
        {
            throw new ArgumentException($"the weights belong to placement {weights.Map.Stamp}, not to {map.Stamp}", nameof(weights));
        }

        var silos = new double[map.MemberCount];
        ReadOnlySpan<double> w = load.Layer(layer);
        for (int e = 0; e < map.Layout.Experts; e++)
        {
            ReadOnlySpan<int> h = map.HolderIndexes(layer, e);
            ReadOnlySpan<double> share = weights.Of(layer, e);
            for (int r = 0; r < h.Length; r++)
            {
                silos[h[r]] += w[e] * share[r];
            }
        }

        return silos;
    }

    /// <summary>Σ_layers max silo load / Σ_layers mean silo load (1 when nothing is loaded).</summary>
    public static double Imbalance(PlacementMap map, ExpertLoadEstimate load, ReplicaWeights? weights = null)
    {
        ArgumentNullException.ThrowIfNull(map);
        double max = 0, mean = 0;
        foreach (int layer in map.Layout.MoeLayers)
        {
            double[] silos = Predict(map, load, layer, weights);
            max += silos.Max();
            mean += silos.Sum() / silos.Length;
        }

        return mean > 0 ? max / mean : 1;
    }

    /// <summary>The replica weights that balance <paramref name="map"/>'s silos best for <paramref name="load"/> (water-filling).</summary>
    public static ReplicaWeights BalancedWeights(PlacementMap map, ExpertLoadEstimate load)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(load);
        var flat = new double[map.HolderMembers.Length];
        foreach (int layer in map.Layout.MoeLayers)
        {
            int[][] holders = HoldersOf(map, layer);
            var shares = new double[holders.Length][];
            ReplicaWeightSolver.Solve(holders, load.Layer(layer), map.MemberCount, shares);
            WriteWeights(map, layer, load.Layer(layer), shares, flat);
        }

        return ReplicaWeights.FromArray(map, flat);
    }

    internal static int[][] HoldersOf(PlacementMap map, int layer)
    {
        var holders = new int[map.Layout.Experts][];
        for (int e = 0; e < holders.Length; e++)
        {
            holders[e] = map.HolderIndexes(layer, e).ToArray();
        }

        return holders;
    }

    /// <summary>Shares of load to weights (share / load; equal weights for an unloaded expert) into the flat holder array.</summary>
    internal static void WriteWeights(PlacementMap map, int layer, ReadOnlySpan<double> w, double[][] shares, double[] flat)
    {
        int slot0 = map.LayerIndex(layer) * map.Layout.Experts;
        for (int e = 0; e < shares.Length; e++)
        {
            int start = map.HolderOffsets[slot0 + e];
            int n = shares[e].Length;
            for (int r = 0; r < n; r++)
            {
                flat[start + r] = w[e] > 0 ? shares[e][r] / w[e] : 1.0 / n;
            }
        }
    }
}
