namespace R1Orleans.Backend;

/// <summary>
/// The math the model needs, on batches of rows (tokens). Activations are row-major [rows, width] float32.
/// A CUDA backend implements the same contract; model code never loops over tokens for heavy work itself.
/// </summary>
public interface IComputeBackend
{
    string Name { get; }

    /// <summary>y[n, w.Rows] = x[n, w.Cols] · wᵀ.</summary>
    void Linear(ReadOnlySpan<float> x, int n, Matrix w, Span<float> y);

    /// <summary>Row-wise RMSNorm: y = x / sqrt(mean(x²) + eps) ⊙ weight, rows of weight.Length.</summary>
    void RmsNorm(ReadOnlySpan<float> x, int n, ReadOnlySpan<float> weight, float eps, Span<float> y);

    /// <summary>SwiGLU activation: y = silu(gate) ⊙ up, element-wise.</summary>
    void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y);

    /// <summary>Causal attention of one sequence's queries against its keys for all heads (naive MLA, after decompression).</summary>
    void Attention(in AttentionProblem p);

    /// <summary>Absorbed MLA attention of one sequence's queries directly against its latent cache.</summary>
    void LatentAttention(in LatentAttentionProblem p);
}
