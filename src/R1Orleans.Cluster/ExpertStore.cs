using System.Collections.Concurrent;
using R1Orleans.Checkpoint;
using R1Orleans.Model;
using R1Orleans.Placement;

namespace R1Orleans.Cluster;

/// <summary>
/// The routed experts one silo holds, loaded from the checkpoint by tensor name as placements give them to it (only
/// those: a silo that holds a quarter of the experts reads a quarter of the expert bytes). Experts are kept across
/// placement versions (a later version may drop them once the failover and balancing work retires versions).
/// Thread-safe: holders read while a new placement loads.
/// </summary>
public sealed class ExpertStore : IDisposable
{
    private readonly CheckpointReader _reader;
    private readonly string _directory;
    private readonly WeightLoader _weights;
    private readonly ConcurrentDictionary<(int Layer, int Expert), FeedForward> _experts = new();
    private readonly Lock _loading = new();

    public ExpertStore(string checkpointDirectory)
    {
        _directory = checkpointDirectory;
        _reader = CheckpointReader.Open(checkpointDirectory);
        _weights = new WeightLoader(_reader);
    }

    public ModelConfig Config => _reader.Config;

    public bool HasMtp => _reader.HasMtp;

    public int Count => _experts.Count;

    public long WeightBytes => _experts.Values.Sum(e => e.WeightBytes);

    public FeedForward? Get(int layer, int expert) => _experts.GetValueOrDefault((layer, expert));

    /// <summary>Experts held per layer.</summary>
    public IReadOnlyDictionary<int, int[]> Held =>
        _experts.Keys.GroupBy(k => k.Layer).ToDictionary(g => g.Key, g => g.Select(k => k.Expert).Order().ToArray());

    /// <summary>Loads every expert <paramref name="map"/> gives <paramref name="silo"/> that is not held yet; returns how many were loaded.</summary>
    public int Load(PlacementMap map, SiloId silo)
    {
        ArgumentNullException.ThrowIfNull(map);
        lock (_loading)
        {
            int loaded = 0;
            foreach (int layer in map.Layout.MoeLayers)
            {
                if (layer >= _reader.Config.NumHiddenLayers && !_reader.HasMtp)
                {
                    continue;
                }

                foreach (int expert in map.ExpertsHeldBy(silo, layer))
                {
                    if (!_experts.ContainsKey((layer, expert)))
                    {
                        int l = layer, e = expert;
                        _experts[(layer, expert)] = FeedForward.Load(_weights, part => TensorNames.Expert(l, e, part));
                        loaded++;
                    }
                }
            }

            return loaded;
        }
    }

    /// <summary>
    /// Every MoE layer's e_score_correction_bias from the checkpoint (version 0), over the layers an engine loads:
    /// <paramref name="layout"/>'s MoE layers, the MTP layer's only when the checkpoint carries it. Bias mode pushes
    /// versions of exactly these layers; a checkpoint without the tensors cannot run it (the message names the first missing).
    /// </summary>
    public GateBias ReadGateBias(ExpertLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var layers = new Dictionary<int, float[]>();
        foreach (int layer in layout.MoeLayers)
        {
            if (layer >= _reader.Config.NumHiddenLayers && !_reader.HasMtp)
            {
                continue;
            }

            string name = TensorNames.GateBias(layer);
            if (!_reader.Contains(name))
            {
                throw new CheckpointFormatException(_directory, name, "bias mode (--online-bias) moves each MoE layer's e_score_correction_bias, and this checkpoint does not have it");
            }

            layers[layer] = _reader.ReadWeight(name);
        }

        return new GateBias(0, layers);
    }

    /// <summary>Drops every expert that <paramref name="map"/> does not give <paramref name="silo"/>; returns how many were dropped.</summary>
    public int Retain(PlacementMap map, SiloId silo)
    {
        ArgumentNullException.ThrowIfNull(map);
        lock (_loading)
        {
            int dropped = 0;
            foreach ((int layer, int expert) in _experts.Keys)
            {
                if (!map.Holds(silo, layer, expert) && _experts.TryRemove((layer, expert), out _))
                {
                    dropped++;
                }
            }

            return dropped;
        }
    }

    public void Dispose() => _reader.Dispose();
}
