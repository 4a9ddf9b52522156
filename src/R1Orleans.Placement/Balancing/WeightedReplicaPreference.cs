namespace R1Orleans.Placement.Balancing;

/// <summary>
/// Replica routing by planned weights: among an expert's replicas, the router sends each (layer, token, expert) to the
/// replica its weight table draws for it, a pure function of (<see cref="Step"/>, layer, token, expert): a 64-bit mix
/// of the four, taken modulo <see cref="Resolution"/>, against the cumulative weights. Over many tokens each replica
/// gets its planned share; any single choice is reproducible (and any replica gives the same bits anyway). The node
/// limit still comes first: where the drawn replica's node is not among the token's nodes, the next replica in holder
/// order that is gets it (cost = distance from the drawn replica, cyclic). By default local replicas are not preferred
/// (<see cref="IReplicaPreference.PreferLocalReplicas"/> false), or each rank would keep its own replica's tokens and
/// the planned split would not hold. Routing with a map other than the weights' (say, suspects left out) still gives a
/// valid choice, only not the planned split. Not thread-safe when <see cref="Step"/> changes: one per router.
/// </summary>
public sealed class WeightedReplicaPreference : IReplicaPreference
{
    /// <summary>The weight tables' resolution: a replica's share is a multiple of 1/65536.</summary>
    public const int Resolution = 1 << 16;

    private readonly PlacementMap _map;
    private readonly int[] _thresholds;
    private readonly bool _preferLocal;

    public WeightedReplicaPreference(ReplicaWeights weights, bool preferLocalReplicas = false)
    {
        ArgumentNullException.ThrowIfNull(weights);
        _map = weights.Map;
        _preferLocal = preferLocalReplicas;
        int[] offsets = _map.HolderOffsets;
        ReadOnlySpan<double> w = weights.Flat;
        _thresholds = new int[w.Length];
        for (int i = 0; i + 1 < offsets.Length; i++)
        {
            double cumulative = 0;
            for (int h = offsets[i]; h < offsets[i + 1]; h++)
            {
                cumulative += w[h];
                _thresholds[h] = h + 1 == offsets[i + 1] ? Resolution : (int)Math.Min(Resolution, Math.Round(cumulative * Resolution));
            }
        }
    }

    /// <summary>A salt the exchange may advance once per step, so that a batch of one token still spreads over steps.</summary>
    public long Step { get; set; }

    public bool PreferLocalReplicas => _preferLocal;

    /// <summary>The replica the weights draw for (layer, token, expert) at the current <see cref="Step"/>.</summary>
    public int Choose(int layer, int token, int expert)
    {
        if (!_map.HasLayer(layer) || (uint)expert >= (uint)_map.Layout.Experts)
        {
            return 0;
        }

        int slot = (_map.LayerIndex(layer) * _map.Layout.Experts) + expert;
        int start = _map.HolderOffsets[slot], end = _map.HolderOffsets[slot + 1];
        int u = (int)(Mix(Step, layer, token, expert) % Resolution);
        for (int h = start; h < end; h++)
        {
            if (u < _thresholds[h])
            {
                return h - start;
            }
        }

        return end - start - 1;
    }

    public int Cost(int layer, int token, int expert, int replica)
    {
        int replicas = ReplicasOf(layer, expert);
        int chosen = Choose(layer, token, expert);
        return replicas <= 0 ? replica : (((replica - chosen) % replicas) + replicas) % replicas;
    }

    private int ReplicasOf(int layer, int expert)
    {
        if (!_map.HasLayer(layer) || (uint)expert >= (uint)_map.Layout.Experts)
        {
            return 0;
        }

        int slot = (_map.LayerIndex(layer) * _map.Layout.Experts) + expert;
        return _map.HolderOffsets[slot + 1] - _map.HolderOffsets[slot];
    }

    /// <summary>SplitMix64 over the four inputs: every bit of each moves about half of the output bits.</summary>
    private static ulong Mix(long step, int layer, int token, int expert)
    {
        ulong z = unchecked((ulong)step * 0x9E3779B97F4A7C15UL);
        z = Round(z ^ (uint)layer);
        z = Round(z ^ ((ulong)(uint)token << 20));
        z = Round(z ^ ((ulong)(uint)expert << 40));
        return z;

        static ulong Round(ulong x)
        {
            x += 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            return x ^ (x >> 31);
        }
    }
}
