using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>
/// One MoE layer step: gate → dispatch → experts → combine (through the expert exchange), plus the shared experts,
/// which every token uses and which stay with the layer.
/// </summary>
public sealed class DeepseekMoE
{
    private readonly int _layer;
    private readonly NoauxTcGate _gate;
    private readonly FeedForward? _shared;
    private readonly IExpertExchange _exchange;

    public DeepseekMoE(int layer, NoauxTcGate gate, FeedForward? shared, IExpertExchange exchange)
    {
        _layer = layer;
        _gate = gate;
        _shared = shared;
        _exchange = exchange;
    }

    public static DeepseekMoE Load(ModelConfig c, int layer, WeightLoader w, IExpertExchange exchange)
    {
        FeedForward? shared = c.NSharedExperts > 0
            ? FeedForward.Load(w, part => TensorNames.SharedExpert(layer, part))
            : null;
        return new DeepseekMoE(layer, NoauxTcGate.Load(c, layer, w), shared, exchange);
    }

    public NoauxTcGate Gate => _gate;

    /// <summary>The shared experts as one feed-forward (null when the config has none).</summary>
    public FeedForward? Shared => _shared;

    public void Forward(IComputeBackend backend, ReadOnlySpan<float> x, ForwardBatch batch, Span<float> y)
    {
        int n = batch.Rows;
        // The step's bias (one version for all its layers), or the checkpoint's.
        ExpertRouting routing = batch.GateBias is { } bias
            ? _gate.Route(backend, x, n, bias.For(_layer), bias.Version)
            : _gate.Route(backend, x, n);
        batch.RoutingObserver?.OnRouted(_layer, batch, routing);
        ExpertStep step = _exchange.Dispatch(_layer, x, routing);

        // The shared experts run while the routed ones are computed (elsewhere, on other silos); the sum is the same
        // as ever: the routed combine first, then + shared.
        float[]? s = null;
        if (_shared is not null)
        {
            s = new float[y.Length];
            _shared.Forward(backend, x, n, s);
        }

        _exchange.Combine(step, y);
        if (s is not null)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(y, s, y);
        }
    }
}
