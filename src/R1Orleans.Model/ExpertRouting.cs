namespace R1Orleans.Model;

/// <summary>
/// The gate's decision for n tokens: TopkIds[t * K + k] is token t's k-th expert (by descending choice score) and
/// TopkWeights the matching combine weight (normalized and scaled by routed_scaling_factor).
/// </summary>
public sealed record ExpertRouting(int Tokens, int K, int[] TopkIds, float[] TopkWeights)
{
    /// <summary>The version of the gate bias the choice was made with: 0 the checkpoint's, above an online one (<see cref="GateBias"/>).</summary>
    public long GateBiasVersion { get; init; }

    public ReadOnlySpan<int> Ids(int token) => TopkIds.AsSpan(token * K, K);

    public ReadOnlySpan<float> Weights(int token) => TopkWeights.AsSpan(token * K, K);
}

/// <summary>Receives each MoE layer's routing for a batch.</summary>
public interface IRoutingObserver
{
    void OnRouted(int layer, ForwardBatch batch, ExpertRouting routing);
}
