using R1Orleans.Checkpoint;
using R1Orleans.Gateway;
using R1Orleans.Grains.Layers;

namespace R1Orleans.Cluster.Ranks;

/// <summary>This silo's rank's layers as its layer grains describe them: the kind from the config, the experts from the holder's store, KV from the engine.</summary>
public sealed class SiloLayers(ClusterNode node, ModelHost host) : ILocalLayers
{
    public LayerReport Describe(int layer)
    {
        ModelConfig config = node.Experts.Config;
        int layers = config.NumHiddenLayers + (node.Experts.HasMtp ? config.NumNextnPredictLayers : 0);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, layers);
        string kind = layer >= config.NumHiddenLayers ? "mtp" : config.IsMoeLayer(layer) ? "moe" : "dense";
        int held = node.Experts.Held.TryGetValue(layer, out int[]? experts) ? experts.Length : 0;
        long? kv = host.Engine is { } engine ? (long)engine.Cache.Allocator.UsedBlocks * engine.Cache.BlockSize : null;
        return new LayerReport(layer, kind, node.Self.Silo.Value, held, kv);
    }
}
