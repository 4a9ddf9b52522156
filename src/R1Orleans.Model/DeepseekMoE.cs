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

    public void Forward(IComputeBackend backend, ReadOnlySpan<float> x, ForwardBatch batch, Span<float> y)
    {
        int n = batch.Rows;
        ExpertRouting routing = _gate.Route(backend, x, n);
        batch.RoutingObserver?.OnRouted(_layer, batch, routing);
        _exchange.DispatchCombine(_layer, x, routing, y);
        if (_shared is not null)
        {
            float[] s = new float[y.Length];
            _shared.Forward(backend, x, n, s);
            System.Numerics.Tensors.TensorPrimitives.Add(y, s, y);
        }
    }
}
