using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;

namespace R1Orleans.Transport;

/// <summary>
/// Thread-safe count of tokens dispatched to each (layer, expert), cumulative (exported in /metrics), and per
/// (layer, expert, replica) in windows: <see cref="CloseWindow"/> takes the counts since the previous call as an
/// <see cref="ExpertLoadWindow"/> (what a silo publishes to the load balancer) and starts the next window.
/// </summary>
public sealed class ExpertLoadCounter
{
    private readonly ConcurrentDictionary<(int Layer, int Expert), long> _tokens = new();
    private readonly ConcurrentDictionary<(int Layer, int Expert, int Replica), long> _replicaTokens = new();
    private readonly Lock _windowGate = new();
    private readonly TimeProvider _time;
    private Dictionary<(int Layer, int Expert, int Replica), long> _window = [];
    private long _windowNumber;
    private long _firstVersion;
    private long _lastVersion;
    private long _windowStarted;

    public ExpertLoadCounter(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _windowStarted = _time.GetTimestamp();
    }

    /// <summary>Counts tokens for replica 0 of (layer, expert) under an unknown placement version (a single-copy exchange).</summary>
    public void Add(int layer, int expert, long tokens) => Add(layer, expert, 0, tokens, 0);

    /// <summary>
    /// Counts <paramref name="tokens"/> routed to replica <paramref name="replica"/> of (layer, expert) (its position in
    /// the holder list of placement <paramref name="placementVersion"/>; 0 when unknown).
    /// </summary>
    public void Add(int layer, int expert, int replica, long tokens, long placementVersion)
    {
        _tokens.AddOrUpdate((layer, expert), tokens, (_, v) => v + tokens);
        _replicaTokens.AddOrUpdate((layer, expert, replica), tokens, (_, v) => v + tokens);
        lock (_windowGate)
        {
            AddTo(_window, (layer, expert, replica), tokens);
            if (placementVersion > 0)
            {
                if (_firstVersion == 0)
                {
                    _firstVersion = placementVersion;
                }

                _lastVersion = placementVersion;
            }
        }
    }

    public long Tokens(int layer, int expert) => _tokens.TryGetValue((layer, expert), out long v) ? v : 0;

    /// <summary>Tokens routed to one replica of (layer, expert) since start (replica indexes of whichever versions were current).</summary>
    public long Tokens(int layer, int expert, int replica) => _replicaTokens.TryGetValue((layer, expert, replica), out long v) ? v : 0;

    /// <summary>Tokens over every (layer, expert).</summary>
    public long Total => _tokens.Values.Sum();

    /// <summary>Windows closed so far (the number of the last one).</summary>
    public long WindowsClosed => Interlocked.Read(ref _windowNumber);

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

    /// <summary>
    /// Closes the current window and returns its counts as <paramref name="silo"/>'s next window (numbered from 1), then
    /// opens the next one. Counts added concurrently land in exactly one of the two windows.
    /// </summary>
    public ExpertLoadWindow CloseWindow(SiloId silo)
    {
        Dictionary<(int Layer, int Expert, int Replica), long> counts;
        long first, last, number, started, now;
        lock (_windowGate)
        {
            counts = _window;
            _window = [];
            (first, last) = (_firstVersion, _lastVersion);
            (_firstVersion, _lastVersion) = (0, 0);
            now = _time.GetTimestamp();
            started = _windowStarted;
            _windowStarted = now;
            number = Interlocked.Increment(ref _windowNumber);
        }

        ExpertReplicaLoad[] loads = [.. counts
            .Where(kv => kv.Value != 0)
            .Select(kv => new ExpertReplicaLoad(kv.Key.Layer, kv.Key.Expert, kv.Key.Replica, kv.Value))
            .OrderBy(c => c.Layer).ThenBy(c => c.Expert).ThenBy(c => c.Replica)];
        return new ExpertLoadWindow(silo, number, first, last, _time.GetElapsedTime(started, now), loads);
    }

    private static void AddTo(Dictionary<(int Layer, int Expert, int Replica), long> window, (int, int, int) key, long tokens)
    {
        ref long slot = ref CollectionsMarshal.GetValueRefOrAddDefault(window, key, out _);
        slot += tokens;
    }
}
