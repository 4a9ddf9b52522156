using R1Orleans.Backend;

namespace R1Orleans.Model;

/// <summary>RMSNorm over rows: x / sqrt(mean(x²) + eps) ⊙ weight.</summary>
public sealed class RmsNorm(float[] weight, float eps)
{
    public int Dim => weight.Length;

    /// <summary>The scale vector (a backend that keeps its own copy reads it).</summary>
    public ReadOnlySpan<float> Weight => weight;

    public float Eps => eps;

    public void Forward(IComputeBackend backend, ReadOnlySpan<float> x, int n, Span<float> y) =>
        backend.RmsNorm(x, n, weight, eps, y);

    public float[] Forward(IComputeBackend backend, ReadOnlySpan<float> x, int n)
    {
        var y = new float[n * Dim];
        backend.RmsNorm(x, n, weight, eps, y);
        return y;
    }
}
