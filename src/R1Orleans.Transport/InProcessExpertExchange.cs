using R1Orleans.Backend;
using R1Orleans.Model;
using R1Orleans.Transport.Experts;

namespace R1Orleans.Transport;

/// <summary>
/// The same-process expert exchange: dispatch gathers each expert's tokens into one contiguous batch, the expert runs
/// once on it, and combine sums w[t,k] · out[t,k] per token in slot order k = 0..K−1. The summation order depends on
/// the token alone, so a token's output is the same whatever else is in the batch.
/// </summary>
public sealed class InProcessExpertExchange : IExpertExchange, IExpertLoadSource
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

    public ExpertStep Dispatch(int layer, ReadOnlySpan<float> x, ExpertRouting routing)
    {
        ArgumentNullException.ThrowIfNull(routing);
        int n = routing.Tokens;
        int hidden = x.Length / Math.Max(1, n);
        if (x.Length != n * hidden)
        {
            throw new ArgumentException($"dispatch: {n} tokens, x holds {x.Length} values");
        }

        DispatchLayout layout = DispatchLayout.Build(routing, _experts);
        int rows = routing.TopkIds.Length;
        float[] input = new float[rows * hidden];
        for (int r = 0; r < rows; r++)
        {
            x.Slice(layout.SourceToken[r] * hidden, hidden).CopyTo(input.AsSpan(r * hidden, hidden));
        }

        var groups = new ExpertGroup[_experts];
        int count = 0;
        for (int e = 0; e < _experts; e++)
        {
            if (layout.TokensFor(e) > 0)
            {
                groups[count++] = new ExpertGroup(e, layout.ExpertOffsets[e], layout.TokensFor(e));
                Load.Add(layer, e, layout.TokensFor(e));
            }
        }

        float[] output = new float[rows * hidden];
        GroupedExperts.Run(
            _backend, _parallelism, e => _shard.Get(layer, e), groups, count,
            (first, n) => input.AsSpan(first * hidden, n * hidden),
            (first, n) => output.AsSpan(first * hidden, n * hidden));

        // Back to (token, slot) order for the combine.
        float[] expertOut = new float[rows * hidden];
        for (int r = 0; r < rows; r++)
        {
            int dst = (layout.SourceToken[r] * routing.K) + layout.SourceSlot[r];
            output.AsSpan(r * hidden, hidden).CopyTo(expertOut.AsSpan(dst * hidden, hidden));
        }

        return new Step(layer, routing, hidden, expertOut);
    }

    public void Combine(ExpertStep step, Span<float> y)
    {
        var s = step as Step ?? throw new ArgumentException("a step of another exchange", nameof(step));
        SlotOrderCombine.Run(s.Routing, s.Hidden, s.ExpertOut, y);
    }

    private sealed class Step(int layer, ExpertRouting routing, int hidden, float[] expertOut) : ExpertStep(layer, routing, hidden)
    {
        public float[] ExpertOut { get; } = expertOut;
    }
}
