using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.Interop.Ucx;
using R1Orleans.Transport.Cluster;
using R1Orleans.Transport.Ucx;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// Silos of one process as plain objects: each holds the experts a placement map gives it (loaded from the checkpoint
/// by name) behind an <see cref="ExpertHolder"/> on one <see cref="InMemoryExpertNetwork"/>; a rank on any of them
/// reaches the others only through request bytes.
/// </summary>
internal sealed class InMemoryCluster : IDisposable
{
    private readonly List<CheckpointReader> _readers = [];
    private readonly List<UcxNode> _ucx = [];
    private readonly Dictionary<SiloId, IExpertTransport> _transports = [];
    private readonly Dictionary<SiloId, ManualResetEventSlim> _running = [];
    private readonly Dictionary<SiloId, ExpertShard> _shards = [];
    private readonly string _directory;

    private InMemoryCluster(string directory, PlacementMap map, string? ucxTls)
    {
        _directory = directory;
        Map = map;
        View = new PlacementView(map);
        var addresses = new Dictionary<SiloId, byte[]>();
        foreach (ClusterMember m in map.Members)
        {
            CheckpointReader reader = CheckpointReader.Open(directory);
            _readers.Add(reader);
            bool mtp = reader.HasMtp;
            ExpertShard shard = ExpertShard.Load(reader.Config, new WeightLoader(reader), (l, e) => map.Holds(m.Silo, l, e), mtp);
            ExpertsHeld[m.Silo] = shard.Count;
            _shards[m.Silo] = shard;
            var running = new ManualResetEventSlim(true);
            _running[m.Silo] = running;
            SiloId silo = m.Silo;

            // A paused silo's holder blocks on its first expert until resumed (the SIGSTOP of a process, in process).
            var holder = new ExpertHolder(new CpuBackend(1), 1, new HolderFence(map.Stamp), (l, e) =>
            {
                running.Wait();
                ExpertShard current = _shards[silo];
                return current.Contains(l, e) ? current.Get(l, e) : null;
            });
            Holders[m.Silo] = holder;
            if (ucxTls is null)
            {
                Network.Register(m.Silo, holder);
                _transports[m.Silo] = Network;
            }
            else
            {
                var overrides = new Dictionary<string, string> { ["TLS"] = ucxTls };
                if (ucxTls.StartsWith("tcp", StringComparison.Ordinal))
                {
                    overrides["NET_DEVICES"] = "lo";
                }

                var node = new UcxNode(new UcxNodeOptions { Name = m.Silo.Value, ConfigOverrides = overrides });
                _ucx.Add(node);
                var transport = new UcxExpertTransport(node, s => addresses.GetValueOrDefault(s));
                transport.Serve(holder);
                addresses[m.Silo] = transport.Address.ToArray();
                _transports[m.Silo] = transport;
            }
        }
    }

    public PlacementMap Map { get; }

    public InMemoryExpertNetwork Network { get; } = new();

    /// <summary>The placement the ranks step with; <see cref="Replan"/> publishes the next one here.</summary>
    public PlacementView View { get; }

    public Dictionary<SiloId, ExpertHolder> Holders { get; } = [];

    public Dictionary<SiloId, int> ExpertsHeld { get; } = [];

    public List<ClusterExpertExchange> Exchanges { get; } = [];

    public static InMemoryCluster Start(string directory, PlacementMap map) => new(directory, map, null);

    /// <summary>The same silos, each with its own UCX worker (<paramref name="tls"/>: posix,cma,self or tcp,self): the rank reaches them over UCX.</summary>
    public static InMemoryCluster StartOverUcx(string directory, PlacementMap map, string tls) => new(directory, map, tls);

    /// <summary>The exchange of a rank on <paramref name="rank"/>, as the engine's model loader asks for it.</summary>
    public ExpertExchangeFactory RankOn(ClusterMember rank, int maxNodesPerToken = 4, TimeSpan? deadline = null, TimeSpan? recoveryTimeout = null, Func<PlacementMap, IReplicaPreference?>? replicaPreference = null) => (_, _) =>
    {
        var exchange = new ClusterExpertExchange(rank, View, _transports[rank.Silo], Holders[rank.Silo], maxNodesPerToken, deadline ?? TimeSpan.FromSeconds(60))
        {
            RecoveryTimeout = recoveryTimeout ?? TimeSpan.FromSeconds(60),
            ReplicaPreference = replicaPreference,
        };
        Exchanges.Add(exchange);
        return exchange;
    };

    /// <summary>Stops a silo's holder as kill -9 would: calls to it fail at once (unreachable).</summary>
    public void Kill(SiloId silo) => Network.Unregister(silo);

    /// <summary>Pauses a silo's holder (its calls hang until <see cref="Resume"/>), as SIGSTOP would.</summary>
    public void Pause(SiloId silo) => _running[silo].Reset();

    public void Resume(SiloId silo) => _running[silo].Set();

    /// <summary>
    /// What the control plane does when silos are gone: the next placement over <paramref name="survivors"/> (minimal
    /// movement from the current one), each survivor loading the experts it gains by tensor name and serving the new
    /// version, then published to the ranks.
    /// </summary>
    public PlacementMap Replan(PlacementPlanner planner, IEnumerable<ClusterMember> survivors)
    {
        PlacementMap next = planner.Plan(survivors, previous: View.Current);
        foreach (ClusterMember m in next.Members)
        {
            CheckpointReader reader = CheckpointReader.Open(_directory);
            _readers.Add(reader);
            ExpertShard shard = ExpertShard.Load(reader.Config, new WeightLoader(reader), (l, e) => next.Holds(m.Silo, l, e) || _shards[m.Silo].Contains(l, e), reader.HasMtp);
            _shards[m.Silo] = shard;
            ExpertsHeld[m.Silo] = shard.Count;
            Holders[m.Silo].Fence.Begin(next.Stamp);
        }

        Assert.True(View.Publish(next));
        return next;
    }

    public void Dispose()
    {
        foreach (ManualResetEventSlim running in _running.Values)
        {
            running.Set();
        }

        foreach (UcxNode n in _ucx)
        {
            n.Dispose();
        }

        foreach (CheckpointReader r in _readers)
        {
            r.Dispose();
        }
    }
}
