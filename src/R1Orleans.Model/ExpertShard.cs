using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>
/// The routed experts one holder owns: for each MoE layer, a subset of expert ids. Only their weights are read
/// from the checkpoint, so a silo that holds 32 of 256 experts reads an eighth of the expert bytes.
/// </summary>
public sealed class ExpertShard
{
    private readonly Dictionary<(int Layer, int Expert), FeedForward> _experts = [];

    public int Count => _experts.Count;

    public long WeightBytes => _experts.Values.Sum(e => e.WeightBytes);

    public IEnumerable<(int Layer, int Expert)> Keys => _experts.Keys;

    /// <summary>Loads the experts that owns(layer, expert) selects, for every MoE layer (the MTP layer included when withMtp).</summary>
    public static ExpertShard Load(ModelConfig c, WeightLoader w, Func<int, int, bool> owns, bool withMtp)
    {
        var shard = new ExpertShard();
        int layers = c.NumHiddenLayers + (withMtp ? c.NumNextnPredictLayers : 0);
        for (int l = 0; l < layers; l++)
        {
            if (!c.IsMoeLayer(l))
            {
                continue;
            }

            for (int e = 0; e < c.NRoutedExperts; e++)
            {
                if (owns(l, e))
                {
                    int layer = l, expert = e;
                    shard._experts[(l, e)] = FeedForward.Load(w, part => TensorNames.Expert(layer, expert, part));
                }
            }
        }

        return shard;
    }

    public bool Contains(int layer, int expert) => _experts.ContainsKey((layer, expert));

    public FeedForward Get(int layer, int expert) =>
        _experts.TryGetValue((layer, expert), out FeedForward? f)
            ? f
            : throw new KeyNotFoundException($"this shard does not hold expert {expert} of layer {layer}");
}
