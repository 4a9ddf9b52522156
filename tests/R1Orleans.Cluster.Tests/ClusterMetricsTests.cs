using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Placement;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// The cluster's instruments (meter R1Orleans.Cluster) on a two-silo Orleans test cluster serving r1orleans-tiny: a rank
/// whose experts are half remote dispatches to the other silo, and what each silo's <see cref="ClusterMetrics"/>
/// reports is what its node holds and its rank sent.
/// </summary>
public sealed class ClusterMetricsTests
{
    private static readonly string s_tiny = Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");

    [Fact]
    public async Task A_rank_with_remote_experts_reports_dispatch_traffic_and_each_silo_the_experts_its_placement_gives_it()
    {
        var builder = new TestClusterBuilder(2);
        builder.Properties[ClusterSiloConfigurator.ModelKey] = s_tiny;
        builder.AddSiloBuilderConfigurator<ClusterSiloConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            IServiceProvider[] silos = [.. cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services)];
            ClusterNode[] nodes = [.. silos.Select(s => s.GetRequiredService<ClusterNode>())];
            await WhenSettledOverAll(nodes);
            ClusterNode rank = nodes[^1];
            ClusterMetrics metrics = silos[^1].GetRequiredService<ClusterMetrics>();

            using var listener = new ClusterMeterListener();
            await using (InferenceEngine engine = InferenceEngine.Load(s_tiny, new InferenceEngineOptions { Exchange = rank.RankExchange, KvCacheTokens = 1024 }))
            {
                metrics.ObserveRank(engine);
                int tokens = 0;
                await foreach (TextEvent e in engine.GenerateAsync(PromptInput.FromTokens([0, 5, 9, 14]), SamplingParams.Greedy(4) with { IgnoreEos = true }))
                {
                    tokens++;
                }

                Assert.Equal(4, tokens);
                listener.Collect();
                Assert.Equal(0, listener.Value("r1orleans.cluster_rank_requests_running", rank));
            }

            PlacementMap map = rank.View.Current!;
            foreach (ClusterNode node in nodes)
            {
                int placed = map.Layout.MoeLayers.Sum(l => map.ExpertsHeldBy(node.Self.Silo, l).Count);
                int total = map.Layout.MoeLayers.Count * map.Layout.Experts;
                Assert.True(placed > 0 && placed < total, $"{node.Self} is given {placed} of {total} experts");
                Assert.Equal(placed, listener.Value("r1orleans.cluster_experts_held", node));
                Assert.Equal(node.Experts.WeightBytes, listener.Value("r1orleans.cluster_experts_held_bytes", node));
                Assert.True(listener.Value("r1orleans.cluster_experts_held_bytes", node) > 0);
                Assert.Equal(2, listener.Value("r1orleans.cluster_silos_up", node));
                Assert.Equal(map.Version, listener.Value("r1orleans.cluster_placement_version", node));
                Assert.Equal(map.Epoch, listener.Value("r1orleans.cluster_placement_epoch", node));
            }

            // The rank: every MoE layer step of the prefill and the decodes, a request to the other silo and a reply for
            // each, every reply's latency in the histogram; group-aligned placement breaks no node limit.
            long steps = listener.Value("r1orleans.cluster_moe_layer_steps", rank);
            long sentMessages = listener.Value("r1orleans.cluster_dispatch_messages", rank, "sent");
            int mainMoeLayers = map.Layout.MoeLayers.Count(l => l < rank.Experts.Config.NumHiddenLayers);
            Assert.True(steps >= mainMoeLayers * 4, $"{steps} MoE layer steps, {mainMoeLayers} MoE layers, 4 forward passes");
            // A reply slower than the step deadline on a loaded machine is a failed call whose rows are sent again.
            long failed = rank.RankExchangeInstance!.Statistics.FailedCalls;
            long received = listener.Value("r1orleans.cluster_dispatch_messages", rank, "received");
            Assert.True(sentMessages > 0 && sentMessages - failed <= steps, $"{sentMessages} messages ({failed} failed) in {steps} steps");
            Assert.Equal(sentMessages - failed, received);
            Assert.True(listener.Value("r1orleans.cluster_dispatch_bytes", rank, "sent") > 0);
            Assert.True(listener.Value("r1orleans.cluster_dispatch_bytes", rank, "received") > 0);
            Assert.Equal(rank.RankExchangeInstance!.Statistics.SentBytes, listener.Value("r1orleans.cluster_dispatch_bytes", rank, "sent"));
            Assert.Equal(0, listener.Value("r1orleans.cluster_node_limit_violations", rank));
            Assert.Equal(received, listener.Recorded("r1orleans.cluster_dispatch_latency", rank));

            // The other silo's rank never ran: it reports no exchange figures at all rather than zeros it never counted.
            Assert.False(listener.Has("r1orleans.cluster_dispatch_bytes", nodes[0]));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>Until every node serves a committed placement over all of them and holds only what it gives it (at most 60 s).</summary>
    private static async Task WhenSettledOverAll(ClusterNode[] nodes)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            if (nodes.All(n => n.Settled && n.View.Current is { } map && map.MemberCount == nodes.Length))
            {
                return;
            }
        }

        Assert.Fail($"no settled placement over all {nodes.Length} silos within 60 s");
    }

    /// <summary>Listens to every instrument of the R1Orleans.Cluster meter; observable ones are read by <see cref="Collect"/>.</summary>
    private sealed class ClusterMeterListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Lock _gate = new();
        private readonly Dictionary<(string Instrument, string Silo, string? Direction), long> _latest = [];
        private readonly Dictionary<(string Instrument, string Silo), int> _recorded = [];

        public ClusterMeterListener()
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ClusterMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Store(instrument.Name, tags, value));
            _listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) =>
            {
                lock (_gate)
                {
                    var key = (instrument.Name, Tag(tags, "silo")!);
                    _recorded[key] = _recorded.GetValueOrDefault(key) + 1;
                }
            });
            _listener.Start();
        }

        public void Collect()
        {
            lock (_gate)
            {
                _latest.Clear();
            }

            _listener.RecordObservableInstruments();
        }

        public long Value(string instrument, ClusterNode node, string? direction = null)
        {
            if (_latest.Count == 0)
            {
                Collect();
            }

            lock (_gate)
            {
                Assert.True(_latest.TryGetValue((instrument, node.Self.Silo.Value, direction), out long v), $"{instrument} of {node.Self} ({direction}) was not reported");
                return v;
            }
        }

        public bool Has(string instrument, ClusterNode node)
        {
            lock (_gate)
            {
                return _latest.Keys.Any(k => k.Instrument == instrument && k.Silo == node.Self.Silo.Value);
            }
        }

        public int Recorded(string instrument, ClusterNode node)
        {
            lock (_gate)
            {
                return _recorded.GetValueOrDefault((instrument, node.Self.Silo.Value));
            }
        }

        public void Dispose() => _listener.Dispose();

        private void Store(string instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags, long value)
        {
            string silo = Tag(tags, "silo") ?? throw new InvalidOperationException($"{instrument} has no silo label");
            string? direction = Tag(tags, "direction");
            lock (_gate)
            {
                _latest[(instrument, silo, direction)] = value;
            }
        }

        private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
        {
            foreach (KeyValuePair<string, object?> t in tags)
            {
                if (t.Key == key)
                {
                    return t.Value as string;
                }
            }

            return null;
        }
    }
}
