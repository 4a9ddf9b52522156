using System.Numerics.Tensors;
using R1Orleans.Backend;
using R1Orleans.Model;

namespace R1Orleans.Transport;

/// <summary>
/// The same-process expert exchange: dispatch gathers each expert's tokens into one contiguous batch, the expert runs
/// once on it, and combine sums w[t,k] · out[t,k] per token in slot order k = 0..K−1. The summation order depends on
/// the token alone, so a token's output is the same whatever else is in the batch.
/// </summary>
public sealed class InProcessExpertExchange : IExpertExchange
{
    private readonly IComputeBackend _backend;
    private readonly ExpertShard _shard;
    private readonly int _experts;

    public InProcessExpertExchange(IComputeBackend backend, ExpertShard shard, int routedExperts)
    {
        _backend = backend;
        _shard = shard;
        _experts = routedExperts;
    }

    /// <summary>Tokens dispatched per (layer, expert) since creation: the load statistics the balancer reads.</summary>
    public ExpertLoadCounter Load { get; } = new();

    public void DispatchCombine(int layer, ReadOnlySpan<float> x, ExpertRouting routing, Span<float> y)
    {
        int n = routing.Tokens;
        int hidden = x.Length / Math.Max(1, n);
        if (x.Length != n * hidden || y.Length != x.Length)
        {
            throw new ArgumentException($"dispatch: {n} tokens, x holds {x.Length} values and y {y.Length}");
        }

        DispatchLayout layout = DispatchLayout.Build(routing, _experts);
        float[] expertOut = new float[n * routing.K * hidden];
        for (int e = 0; e < _experts; e++)
        {
            int count = layout.TokensFor(e);
            if (count == 0)
            {
                continue;
            }

            FeedForward expert = _shard.Get(layer, e);
            int first = layout.ExpertOffsets[e];
            float[] input = new float[count * hidden];
            for (int i = 0; i < count; i++)
            {
                x.Slice(layout.SourceToken[first + i] * hidden, hidden).CopyTo(input.AsSpan(i * hidden, hidden));
            }

            float[] output = new float[count * hidden];
            expert.Forward(_backend, input, count, output);
            for (int i = 0; i < count; i++)
            {
                int dst = (layout.SourceToken[first + i] * routing.K) + layout.SourceSlot[first + i];
                output.AsSpan(i * hidden, hidden).CopyTo(expertOut.AsSpan(dst * hidden, hidden));
            }

            Load.Add(layer, e, count);
        }

        y.Clear();
        for (int t = 0; t < n; t++)
        {
            Span<float> yt = y.Slice(t * hidden, hidden);
            for (int k = 0; k < routing.K; k++)
            {
                TensorPrimitives.MultiplyAdd(expertOut.AsSpan(((t * routing.K) + k) * hidden, hidden), routing.TopkWeights[(t * routing.K) + k], yt, yt);
            }
        }
    }
}
