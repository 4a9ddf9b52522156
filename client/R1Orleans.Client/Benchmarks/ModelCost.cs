using R1Orleans.Checkpoint;
using R1Orleans.Model;

namespace R1Orleans.Client.Benchmarks;

/// <summary>
/// Bytes and FLOPs of one forward step as the CPU engine executes it, the numerators of the ceiling ratios. Weights are
/// float32 in memory, or, when <paramref name="fp8Resident"/>, a checkpoint's FP8 linear weights stay FP8 (a byte per
/// value plus a float scale per 128x128 block) while the gate, the head and MLA's absorbed kv_b copies stay float32.
/// </summary>
public sealed class ModelCost(ModelConfig c, bool fp8Resident = false)
{
    private const int FloatBytes = sizeof(float);

    /// <summary>Bytes per value of a linear weight as held: 4, or 1 plus its share of a block scale.</summary>
    public double LinearBytes => fp8Resident && c.Quantization is Fp8Quantization q ? 1 + ((double)FloatBytes / (q.BlockRows * q.BlockCols)) : FloatBytes;

    /// <summary>kv_b_proj's parameters (decode reads them as float32 per-head copies).</summary>
    public long KvBParams => (long)c.NumAttentionHeads * (c.QkNopeHeadDim + c.VHeadDim) * c.KvLoraRank;

    /// <summary>Parameters of one layer's attention projections.</summary>
    public long AttentionParams
    {
        get
        {
            long h = c.HiddenSize, heads = c.NumAttentionHeads;
            long q = c.QLoraRank is int r ? (r * h) + (heads * c.QkHeadDim * r) : heads * c.QkHeadDim * h;
            return q + ((long)c.LatentCacheDim * h) + (heads * (c.QkNopeHeadDim + c.VHeadDim) * c.KvLoraRank) + (h * heads * c.VHeadDim);
        }
    }

    public long ExpertParams => 3L * c.MoeIntermediateSize * c.HiddenSize;

    /// <summary>Parameters every token touches in a layer, routed experts excluded.</summary>
    public long LayerStaticParams(int layer) => AttentionParams + (c.IsMoeLayer(layer)
        ? ((long)c.NRoutedExperts * c.HiddenSize) + (c.NSharedExperts * ExpertParams)
        : 3L * c.IntermediateSize * c.HiddenSize);

    public long HeadParams => (long)c.VocabSize * c.HiddenSize;

    /// <summary>Weight bytes one decode step reads: every static weight once, each distinct routed expert once, the head.</summary>
    public long DecodeWeightBytes(long distinctExpertsAllLayers)
    {
        // Float32 throughout: kv_b's absorbed copies, the MoE gate and the head; everything else is a linear weight.
        long floatParams = HeadParams;
        long linearParams = distinctExpertsAllLayers * ExpertParams;
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            long gate = c.IsMoeLayer(l) ? (long)c.NRoutedExperts * c.HiddenSize : 0;
            floatParams += KvBParams + gate;
            linearParams += LayerStaticParams(l) - KvBParams - gate;
        }

        return (FloatBytes * floatParams) + (long)(LinearBytes * linearParams);
    }

    /// <summary>Latent cache bytes one decode step reads for sequences with these context lengths.</summary>
    public long DecodeCacheBytes(IEnumerable<int> contexts) => FloatBytes * (long)c.NumHiddenLayers * c.LatentCacheDim * contexts.Sum(x => (long)x);

    /// <summary>FLOPs of one absorbed decode step for sequences with these context lengths (one new token each).</summary>
    public double DecodeFlops(IReadOnlyCollection<int> contexts)
    {
        double perToken = HeadParams;
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            perToken += LayerStaticParams(l) + (c.IsMoeLayer(l) ? (double)c.NumExpertsPerTok * ExpertParams : 0);
        }

        // Absorbed attention per layer and head: scores over [c | k_rope], then the weighted sum of c.
        double attention = (double)c.NumHiddenLayers * c.NumAttentionHeads * ((2.0 * c.LatentCacheDim) + (2.0 * c.KvLoraRank)) * contexts.Sum(x => (double)x);
        return (2 * perToken * contexts.Count) + attention;
    }

    /// <summary>FLOPs of a naive-MLA prefill of one prompt of t tokens with logits for the last row only.</summary>
    public double PrefillFlops(int t)
    {
        double perToken = 0;
        double attention = 0;
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            perToken += LayerStaticParams(l) + (c.IsMoeLayer(l) ? (double)c.NumExpertsPerTok * ExpertParams : 0);
            attention += (double)c.NumAttentionHeads * t * (t + 1) / 2 * (c.QkHeadDim + c.VHeadDim);
        }

        return (2 * perToken * t) + (2 * attention) + (2.0 * HeadParams);
    }
}

/// <summary>Counts distinct routed experts per MoE layer per step (the experts whose weights a step reads).</summary>
public sealed class ExpertTouchCounter : IRoutingObserver
{
    public long DistinctExperts { get; private set; }

    public void OnRouted(int layer, ForwardBatch batch, ExpertRouting routing) => DistinctExperts += routing.TopkIds.Distinct().Count();

    public void Reset() => DistinctExperts = 0;
}
