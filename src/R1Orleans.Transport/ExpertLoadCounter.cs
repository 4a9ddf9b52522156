using System.Collections.Concurrent;

namespace R1Orleans.Transport;

/// <summary>Thread-safe count of tokens dispatched to each (layer, expert).</summary>
public sealed class ExpertLoadCounter
{
    private readonly ConcurrentDictionary<(int Layer, int Expert), long> _tokens = new();

    public void Add(int layer, int expert, long tokens) => _tokens.AddOrUpdate((layer, expert), tokens, (_, v) => v + tokens);

    public long Tokens(int layer, int expert) => _tokens.TryGetValue((layer, expert), out long v) ? v : 0;

    /// <summary>Tokens over every (layer, expert).</summary>
    public long Total => _tokens.Values.Sum();

    /// <summary>max / mean tokens over the experts of a layer (1 is perfectly balanced; NaN before any token was routed there).</summary>
    public double Imbalance(int layer, int experts)
    {
        long max = 0, sum = 0;
        for (int e = 0; e < experts; e++)
        {
            long v = Tokens(layer, e);
            max = Math.Max(max, v);
            sum += v;
        }

        return sum == 0 ? double.NaN : max / ((double)sum / experts);
    }
}
