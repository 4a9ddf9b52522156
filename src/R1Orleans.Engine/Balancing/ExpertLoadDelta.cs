using R1Orleans.Transport;

namespace R1Orleans.Engine.Balancing;

/// <summary>
/// Windows of the cumulative <see cref="ExpertLoadCounter"/> by difference: each <see cref="Take"/> gives the tokens
/// routed to every (layer, expert) since the previous one (or since this was made), leaving the counter's own windows
/// (<c>CloseWindow</c>, what a silo publishes to the cluster's load balancer) alone. Read where nothing else is routing
/// (the engine thread between steps), so a window holds whole steps.
/// </summary>
public sealed class ExpertLoadDelta
{
    private readonly ExpertLoadCounter _counter;
    private readonly int[] _layers;
    private readonly int _experts;
    private readonly Dictionary<int, long[]> _seen = [];

    public ExpertLoadDelta(ExpertLoadCounter counter, IEnumerable<int> layers, int experts)
    {
        _counter = counter ?? throw new ArgumentNullException(nameof(counter));
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(experts);
        _layers = [.. layers];
        _experts = experts;
        foreach (int layer in _layers)
        {
            _seen[layer] = Read(layer);
        }
    }

    /// <summary>Tokens per expert of every layer since the last window: [layer][expert].</summary>
    public IReadOnlyDictionary<int, long[]> Take()
    {
        var window = new Dictionary<int, long[]>();
        foreach (int layer in _layers)
        {
            long[] now = Read(layer);
            long[] before = _seen[layer];
            var delta = new long[_experts];
            for (int e = 0; e < _experts; e++)
            {
                delta[e] = now[e] - before[e];
            }

            window[layer] = delta;
            _seen[layer] = now;
        }

        return window;
    }

    private long[] Read(int layer)
    {
        var counts = new long[_experts];
        for (int e = 0; e < _experts; e++)
        {
            counts[e] = _counter.Tokens(layer, e);
        }

        return counts;
    }
}
