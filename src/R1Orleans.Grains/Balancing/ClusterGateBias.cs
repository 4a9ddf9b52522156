using R1Orleans.Model;
using R1Orleans.Placement.Balancing;

namespace R1Orleans.Grains.Balancing;

/// <summary>
/// Bias mode's decision on a cluster, a plain class under <see cref="LoadBalancerGrain"/>: it sums the silos' load
/// windows into one window of routed tokens per (layer, expert) (over silos and replicas: every token a gate chose),
/// and on each <see cref="Update"/> moves the bias against it (<see cref="GateBiasBalancer"/>: b ← b − γ·sign(load −
/// mean), clamped to the maximum drift from the checkpoint's), one version up. A new balancer activation starts from
/// the checkpoint's bias and <see cref="Adopt"/>s the newest version a silo reports, so versions only go up across the
/// loss of the balancer's silo. A lost window only leaves its tokens out of one update.
/// </summary>
public sealed class ClusterGateBias
{
    private readonly GateBiasBalancer _balancer;
    private readonly GateBias _checkpoint;
    private readonly int _experts;
    private readonly Dictionary<int, long[]> _window = [];
    private GateBias _current;
    private long _updates;
    private Dictionary<int, double> _first = [];
    private Dictionary<int, double> _last = [];
    private Dictionary<int, long> _lastTokens = [];

    public ClusterGateBias(GateBias checkpoint, ClusterGateBiasOptions options)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(options);
        if (checkpoint.Version != 0)
        {
            throw new ArgumentException($"the checkpoint's bias is version 0, not {checkpoint.Version}", nameof(checkpoint));
        }

        if (checkpoint.LayerCount == 0)
        {
            throw new ArgumentException("bias mode needs the checkpoint's e_score_correction_bias of at least one MoE layer", nameof(checkpoint));
        }

        _balancer = options.Balancer();
        _checkpoint = checkpoint;
        _current = checkpoint;
        _experts = checkpoint.For(checkpoint.Layers.First()).Length;
        Options = options;
    }

    public ClusterGateBiasOptions Options { get; }

    /// <summary>The bias pushed last (the checkpoint's, version 0, before the first update).</summary>
    public GateBias Current => _current;

    public GateBias Checkpoint => _checkpoint;

    /// <summary>Tokens in the window not yet used by an update.</summary>
    public long PendingTokens => _window.Values.Sum(v => v.Sum());

    /// <summary>Adds a silo's window: its tokens per (layer, expert), every replica's together; layers without a gate bias are left out.</summary>
    public void Offer(ExpertLoadWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        foreach (ExpertReplicaLoad c in window.Counts)
        {
            if (!_checkpoint.Covers(c.Layer))
            {
                continue;
            }

            if (c.Expert < 0 || c.Expert >= _experts || c.Tokens < 0)
            {
                throw new ArgumentException($"a load window from {window.Silo} counts {c.Tokens} tokens for expert {c.Expert} of layer {c.Layer}; the gate has {_experts} experts");
            }

            if (!_window.TryGetValue(c.Layer, out long[]? counts))
            {
                _window[c.Layer] = counts = new long[_experts];
            }

            counts[c.Expert] += c.Tokens;
        }
    }

    /// <summary>Takes <paramref name="seen"/> (a silo's bias) as the current one when it is newer; true when taken.</summary>
    public bool Adopt(GateBias seen)
    {
        ArgumentNullException.ThrowIfNull(seen);
        if (seen.Version <= _current.Version)
        {
            return false;
        }

        if (!seen.Layers.SequenceEqual(_checkpoint.Layers))
        {
            throw new ArgumentException($"a silo's gate bias version {seen.Version} covers layers [{string.Join(", ", seen.Layers)}]; the checkpoint's covers [{string.Join(", ", _checkpoint.Layers)}]");
        }

        _current = seen;
        return true;
    }

    /// <summary>
    /// The next version from the window gathered since the last update (which it empties), or null when no token was
    /// routed meanwhile (an idle cluster keeps its bias).
    /// </summary>
    public GateBiasUpdate? Update()
    {
        if (PendingTokens == 0)
        {
            return null;
        }

        GateBiasUpdate update = _balancer.Update(_window, _current, _checkpoint);
        _window.Clear();
        _current = update.Bias;
        Dictionary<int, double> measured = update.ImbalanceBefore.Where(p => !double.IsNaN(p.Value)).ToDictionary(p => p.Key, p => p.Value);
        if (_updates++ == 0)
        {
            _first = measured;
        }

        _last = measured;
        _lastTokens = update.WindowTokens.ToDictionary(p => p.Key, p => p.Value);
        return update;
    }

    /// <summary>A snapshot for the balancer's report (<paramref name="pushedTo"/>, <paramref name="failed"/>: the last push).</summary>
    public GateBiasReport Report(IEnumerable<string> pushedTo, IEnumerable<string> failed) =>
        new(_current.Version, _updates, Options.Gamma, Options.MaxDrift, new(_first), new(_last), new(_lastTokens),
            _current.Layers.ToDictionary(l => l, l => _current.Drift(_checkpoint, l)), [.. pushedTo], [.. failed]);
}
