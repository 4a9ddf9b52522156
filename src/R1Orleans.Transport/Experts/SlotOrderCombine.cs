using System.Numerics.Tensors;
using R1Orleans.Model;

namespace R1Orleans.Transport.Experts;

/// <summary>
/// The combine every exchange shares: y[t] = Σ_k w[t,k] · out[t,k], summed from zero in slot order k = 0..K−1, so the
/// bits of a token's output depend on that token's expert outputs alone (not on where they ran or with whom).
/// </summary>
public static class SlotOrderCombine
{
    /// <param name="routing">The gate's choice (weights per (token, slot)).</param>
    /// <param name="hidden">Floats per row.</param>
    /// <param name="expertOut">Expert outputs in (token, slot) order: row t·K + k.</param>
    /// <param name="y">Tokens × hidden, overwritten.</param>
    public static void Run(ExpertRouting routing, int hidden, ReadOnlySpan<float> expertOut, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(routing);
        if (y.Length != routing.Tokens * hidden || expertOut.Length < routing.Tokens * routing.K * hidden)
        {
            throw new ArgumentException($"combine: {routing.Tokens} tokens × {hidden}, y holds {y.Length} values and the expert outputs {expertOut.Length}");
        }

        y.Clear();
        for (int t = 0; t < routing.Tokens; t++)
        {
            Span<float> yt = y.Slice(t * hidden, hidden);
            for (int k = 0; k < routing.K; k++)
            {
                TensorPrimitives.MultiplyAdd(expertOut.Slice(((t * routing.K) + k) * hidden, hidden), routing.TopkWeights[(t * routing.K) + k], yt, yt);
            }
        }
    }
}
