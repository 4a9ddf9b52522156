namespace R1Orleans.Checkpoint;

/// <summary>How a tensor is stored and may be typed.</summary>
public enum TensorRole
{
    /// <summary>A linear layer's [out, in] weight: float, or FP8 with a block scale when the config says so.</summary>
    Linear,

    /// <summary>Norm weights, embeddings, heads, the gate: floating point, never FP8.</summary>
    Dense,
}

public sealed record ExpectedTensor(string Name, long[] Shape, TensorRole Role, bool Optional = false);

/// <summary>
/// The tensors a config implies, with their shapes, in the real DeepSeek-V3 layout. The checkpoint is validated
/// against this list at open time (from headers only), so a bad file fails before any weight is read.
/// </summary>
public static class CheckpointSchema
{
    public static IEnumerable<ExpectedTensor> Main(ModelConfig c)
    {
        yield return new(TensorNames.Embedding, [c.VocabSize, c.HiddenSize], TensorRole.Dense);
        yield return new(TensorNames.FinalNorm, [c.HiddenSize], TensorRole.Dense);
        yield return new(TensorNames.LmHead, [c.VocabSize, c.HiddenSize], TensorRole.Dense);
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            foreach (ExpectedTensor t in Block(c, l))
            {
                yield return t;
            }
        }
    }

    /// <summary>The MTP layer (index num_hidden_layers): its own embedding copy and head are optional and fall back to the main ones.</summary>
    public static IEnumerable<ExpectedTensor> Mtp(ModelConfig c)
    {
        int l = c.NumHiddenLayers;
        yield return new(TensorNames.Mtp(l, "embed_tokens.weight"), [c.VocabSize, c.HiddenSize], TensorRole.Dense, Optional: true);
        yield return new(TensorNames.Mtp(l, "enorm.weight"), [c.HiddenSize], TensorRole.Dense);
        yield return new(TensorNames.Mtp(l, "hnorm.weight"), [c.HiddenSize], TensorRole.Dense);
        yield return new(TensorNames.Mtp(l, "eh_proj.weight"), [c.HiddenSize, 2L * c.HiddenSize], TensorRole.Linear);
        yield return new(TensorNames.Mtp(l, "shared_head.norm.weight"), [c.HiddenSize], TensorRole.Dense);
        yield return new(TensorNames.Mtp(l, "shared_head.head.weight"), [c.VocabSize, c.HiddenSize], TensorRole.Dense, Optional: true);
        foreach (ExpectedTensor t in Block(c, l))
        {
            yield return t;
        }
    }

    public static IEnumerable<ExpectedTensor> Block(ModelConfig c, int l)
    {
        long h = c.HiddenSize;
        long heads = c.NumAttentionHeads;
        yield return new(TensorNames.InputNorm(l), [h], TensorRole.Dense);
        yield return new(TensorNames.PostAttentionNorm(l), [h], TensorRole.Dense);
        if (c.QLoraRank is int qr)
        {
            yield return new(TensorNames.Attn(l, "q_a_proj"), [qr, h], TensorRole.Linear);
            yield return new(TensorNames.Attn(l, "q_a_layernorm"), [qr], TensorRole.Dense);
            yield return new(TensorNames.Attn(l, "q_b_proj"), [heads * c.QkHeadDim, qr], TensorRole.Linear);
        }
        else
        {
            yield return new(TensorNames.Attn(l, "q_proj"), [heads * c.QkHeadDim, h], TensorRole.Linear);
        }

        yield return new(TensorNames.Attn(l, "kv_a_proj_with_mqa"), [c.KvLoraRank + c.QkRopeHeadDim, h], TensorRole.Linear);
        yield return new(TensorNames.Attn(l, "kv_a_layernorm"), [c.KvLoraRank], TensorRole.Dense);
        yield return new(TensorNames.Attn(l, "kv_b_proj"), [heads * (c.QkNopeHeadDim + c.VHeadDim), c.KvLoraRank], TensorRole.Linear);
        yield return new(TensorNames.Attn(l, "o_proj"), [h, heads * c.VHeadDim], TensorRole.Linear);

        if (!c.IsMoeLayer(l))
        {
            yield return new(TensorNames.Mlp(l, "gate_proj"), [c.IntermediateSize, h], TensorRole.Linear);
            yield return new(TensorNames.Mlp(l, "up_proj"), [c.IntermediateSize, h], TensorRole.Linear);
            yield return new(TensorNames.Mlp(l, "down_proj"), [h, c.IntermediateSize], TensorRole.Linear);
            yield break;
        }

        yield return new(TensorNames.Gate(l), [c.NRoutedExperts, h], TensorRole.Dense);
        yield return new(TensorNames.GateBias(l), [c.NRoutedExperts], TensorRole.Dense);
        for (int e = 0; e < c.NRoutedExperts; e++)
        {
            yield return new(TensorNames.Expert(l, e, "gate_proj"), [c.MoeIntermediateSize, h], TensorRole.Linear);
            yield return new(TensorNames.Expert(l, e, "up_proj"), [c.MoeIntermediateSize, h], TensorRole.Linear);
            yield return new(TensorNames.Expert(l, e, "down_proj"), [h, c.MoeIntermediateSize], TensorRole.Linear);
        }

        if (c.NSharedExperts > 0)
        {
            long si = (long)c.MoeIntermediateSize * c.NSharedExperts;
            yield return new(TensorNames.SharedExpert(l, "gate_proj"), [si, h], TensorRole.Linear);
            yield return new(TensorNames.SharedExpert(l, "up_proj"), [si, h], TensorRole.Linear);
            yield return new(TensorNames.SharedExpert(l, "down_proj"), [h, si], TensorRole.Linear);
        }
    }
}
