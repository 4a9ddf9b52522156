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
    private readonly int _parallelism;

    /// <summary>
    /// backend runs each expert; with parallelism above 1, that many experts run at once (give a single-threaded
    /// backend then, so the parallelism is across experts, not inside each small matrix).
    /// </summary>
    public InProcessExpertExchange(IComputeBackend backend, ExpertShard shard, int routedExperts, int parallelism = 1)
    {
        _backend = backend;
        _shard = shard;
        _experts = routedExperts;
        _parallelism = Math.Max(1, parallelism);
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
        int[] active = Enumerable.Range(0, _experts).Where(e => layout.TokensFor(e) > 0).ToArray();
        float[] source = x.ToArray();
        void RunExpert(int e)
        {
            int count = layout.TokensFor(e);
            FeedForward expert = _shard.Get(layer, e);
            int first = layout.ExpertOffsets[e];
            float[] input = new float[count * hidden];
            for (int i = 0; i < count; i++)
            {
                source.AsSpan(layout.SourceToken[first + i] * hidden, hidden).CopyTo(input.AsSpan(i * hidden, hidden));
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

        if (_parallelism > 1 && active.Length > 1)
        {
            Parallel.ForEach(active, new ParallelOptions { MaxDegreeOfParallelism = _parallelism }, RunExpert);
        }
        else
        {
            foreach (int e in active)
            {
                RunExpert(e);
            }
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
