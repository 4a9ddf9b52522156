using R1Orleans.Checkpoint;

namespace R1Orleans.Cuda.Forward;

/// <summary>An RMSNorm's scale vector on the device.</summary>
public sealed record DeviceNorm(DeviceBuffer Weight, int Dim, float Eps);

/// <summary>MLA's weights on the device; the absorbed per-head matrices stacked [heads, kv_lora, nope] and [heads, v, kv_lora].</summary>
public sealed record DeviceAttention(DeviceWeight? QA, DeviceNorm? QANorm, DeviceWeight QB, DeviceWeight KvA, DeviceNorm KvANorm, DeviceWeight O, DeviceBuffer AbsorbedKeys, DeviceBuffer AbsorbedValues)
{
    public long Bytes => (QA?.Bytes ?? 0) + QB.Bytes + KvA.Bytes + O.Bytes + AbsorbedKeys.Bytes + AbsorbedValues.Bytes;
}

/// <summary>A SwiGLU feed-forward (the dense MLP or the shared experts).</summary>
public sealed record DeviceFeedForward(DeviceWeight Gate, DeviceWeight Up, DeviceWeight Down)
{
    public int Intermediate => Gate.Rows;

    public long Bytes => Gate.Bytes + Up.Bytes + Down.Bytes;
}

/// <summary>
/// One weight stack of the routed experts as moe_ref_* read it: expert e's [rows, cols] starts Stride elements after
/// expert e−1's, float32 or FP8 (scales ScaleStride floats apart, blocks BlockRows × BlockCols).
/// </summary>
public sealed record ExpertStack(ulong Pointer, ulong Scales, long Stride, long ScaleStride);

/// <summary>The routed experts for the reference kernels: gate, up and down stacks of one weight type.</summary>
public sealed record DeviceRoutedExperts(ExpertStack Gate, ExpertStack Up, ExpertStack Down, bool Fp8, int BlockRows, int BlockCols, int Intermediate);

/// <summary>
/// An MoE layer: the router ([experts, hidden], float32), its correction bias, the shared experts, and the routed
/// experts for the reference kernels, the fast FP8 kernels (<see cref="MoeFp8Experts"/>), or both.
/// </summary>
public sealed record DeviceMoe(DeviceWeight Router, DeviceBuffer Bias, DeviceFeedForward? Shared, DeviceRoutedExperts? Reference, MoeFp8Experts? Fast);

/// <summary>One decoder layer: norms, MLA, and the dense MLP or the MoE.</summary>
public sealed record DeviceLayer(int Layer, DeviceNorm InputNorm, DeviceNorm PostAttentionNorm, DeviceAttention Attention, DeviceFeedForward? Mlp, DeviceMoe? Moe);

/// <summary>
/// Every weight of the main model on one device (the MTP layer is not part of it): the embedding table (float32),
/// the decoder layers, the final norm and lm_head, and YaRN's inverse frequencies. Owns the buffers it was given.
/// </summary>
public sealed class DeviceModelWeights(ModelConfig config, DeviceBuffer embedding, IReadOnlyList<DeviceLayer> layers, DeviceNorm finalNorm, DeviceWeight lmHead, DeviceBuffer inverseFrequencies, double attentionFactor, float softmaxScale, IReadOnlyList<IDisposable> owned) : IDisposable
{
    public ModelConfig Config { get; } = config;

    public DeviceBuffer Embedding { get; } = embedding;

    public IReadOnlyList<DeviceLayer> Layers { get; } = layers;

    public DeviceNorm FinalNorm { get; } = finalNorm;

    public DeviceWeight LmHead { get; } = lmHead;

    /// <summary>YaRN's inverse frequencies, float64 [rope / 2].</summary>
    public DeviceBuffer InverseFrequencies { get; } = inverseFrequencies;

    public double AttentionFactor { get; } = attentionFactor;

    public float SoftmaxScale { get; } = softmaxScale;

    public void Dispose()
    {
        foreach (IDisposable d in owned)
        {
            d.Dispose();
        }
    }
}
