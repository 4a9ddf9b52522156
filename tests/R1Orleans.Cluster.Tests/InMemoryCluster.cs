using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.Transport.Cluster;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// Silos of one process as plain objects: each holds the experts a placement map gives it (loaded from the checkpoint
/// by name) behind an <see cref="ExpertHolder"/> on one <see cref="InMemoryExpertNetwork"/>; a rank on any of them
/// reaches the others only through request bytes.
/// </summary>
internal sealed class InMemoryCluster : IDisposable
{
    private readonly List<CheckpointReader> _readers = [];

    private InMemoryCluster(string directory, PlacementMap map)
    {
        Map = map;
        foreach (ClusterMember m in map.Members)
        {
            CheckpointReader reader = CheckpointReader.Open(directory);
            _readers.Add(reader);
            bool mtp = reader.HasMtp;
            ExpertShard shard = ExpertShard.Load(reader.Config, new WeightLoader(reader), (l, e) => map.Holds(m.Silo, l, e), mtp);
            ExpertsHeld[m.Silo] = shard.Count;
            var holder = new ExpertHolder(new CpuBackend(1), 1, new HolderFence(map.Stamp), (l, e) => shard.Contains(l, e) ? shard.Get(l, e) : null);
            Holders[m.Silo] = holder;
            Network.Register(m.Silo, holder);
        }
    }

    public PlacementMap Map { get; }

    public InMemoryExpertNetwork Network { get; } = new();

    public Dictionary<SiloId, ExpertHolder> Holders { get; } = [];

    public Dictionary<SiloId, int> ExpertsHeld { get; } = [];

    public List<ClusterExpertExchange> Exchanges { get; } = [];

    public static InMemoryCluster Start(string directory, PlacementMap map) => new(directory, map);

    /// <summary>The exchange of a rank on <paramref name="rank"/>, as the engine's model loader asks for it.</summary>
    public ExpertExchangeFactory RankOn(ClusterMember rank, int maxNodesPerToken = 4) => (_, _) =>
    {
        var exchange = new ClusterExpertExchange(rank, new PlacementView(Map), Network, Holders[rank.Silo], maxNodesPerToken, TimeSpan.FromSeconds(60));
        Exchanges.Add(exchange);
        return exchange;
    };

    public void Dispose()
    {
        foreach (CheckpointReader r in _readers)
        {
            r.Dispose();
        }
    }
}
