using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Conformance;
using R1Orleans.Grains.Balancing;
using R1Orleans.Grains.Layers;
using R1Orleans.Grains.Routing;
using R1Orleans.Placement;
using R1Orleans.TestSupport;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// Orleans in-process test clusters (TestingHost) whose silos join the placement directory grain, load the experts
/// the committed placement gives them and serve them through the expert holder grains: a rank on one silo gives the
/// single-process bits on every golden case, and each silo holds a strict subset of the experts.
/// </summary>
public sealed class OrleansClusterTests
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in GoldenDirectory.ModelCaseNames)
        {
            data.Add(GoldenDirectory.Case(name), 3);
        }

        string tiny = Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");
        data.Add(tiny, 2);
        data.Add(tiny, 4);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_rank_of_an_orleans_cluster_gives_the_single_process_bits(string directory, int silos)
    {
        GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
        var builder = new TestClusterBuilder((short)silos);
        builder.Properties[ClusterSiloConfigurator.ModelKey] = directory;
        builder.AddSiloBuilderConfigurator<ClusterSiloConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            ClusterNode[] nodes = [.. cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<ClusterNode>())];
            await WhenPlacedOverAll(nodes, TimeSpan.FromSeconds(60));

            ClusterNode rank = nodes[^1];
            GoldenReport distributed = GoldenChecker.Check(directory, new CpuBackend(1), exchange: rank.RankExchange);

            DistributedEqualsSingleProcessTests.AssertSameBits(single.Trace!, distributed.Trace!, $"{Path.GetFileName(directory)} on an Orleans cluster of {silos}");
            Assert.True(distributed.Passed, distributed.ToString());
            int total = rank.View.Current!.Layout.MoeLayers.Count * rank.View.Current.Layout.Experts;
            Assert.All(nodes, n => Assert.True(n.Experts.Count >= 1 && n.Experts.Count < total, $"{n.Self} holds {n.Experts.Count} of {total} experts ({string.Join(", ", nodes.Select(o => o.Experts.Count))})"));
            Assert.All(nodes.SkipLast(1), n => Assert.True(n.Holder!.Load.Total > 0, $"{n.Self} ran no expert for the rank"));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Layer_grains_live_on_their_ranks_silo_and_the_router_grain_routes_within_the_node_limit()
    {
        string directory = Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");
        ModelConfig config = DistributedEqualsSingleProcessTests.ModelConfigOf(directory);
        var builder = new TestClusterBuilder(3);
        builder.Properties[ClusterSiloConfigurator.ModelKey] = directory;
        builder.AddSiloBuilderConfigurator<ClusterSiloConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            ClusterNode[] nodes = [.. cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<ClusterNode>())];
            await WhenPlacedOverAll(nodes, TimeSpan.FromSeconds(60));
            PlacementMap map = nodes[0].View.Current!;
            int layers = config.NumHiddenLayers + config.NumNextnPredictLayers;
            foreach (ClusterNode node in nodes)
            {
                for (int layer = 0; layer < layers; layer++)
                {
                    LayerReport report = await cluster.Client.GetGrain<IRankLayerGrain>($"{node.Self.Silo.Value}/{layer}").Describe();
                    Assert.Equal(node.Self.Silo.Value, report.Silo);
                    Assert.Equal(layer, report.Layer);
                    Assert.Equal(layer >= config.NumHiddenLayers ? "mtp" : config.IsMoeLayer(layer) ? "moe" : "dense", report.Kind);
                    int placed = map.HasLayer(layer) ? map.ExpertsHeldBy(node.Self.Silo, layer).Count : 0;
                    Assert.Equal(placed, report.RoutedExpertsHeldHere);
                }
            }

            // The gate's choice for 64 tokens of the first MoE layer (top-k within topk_group groups), routed by a router grain.
            int moe = map.Layout.MoeLayers[0], k = config.NumExpertsPerTok;
            var rng = new Random(20261204);
            int[] ids = [.. Enumerable.Range(0, 64).SelectMany(_ => Enumerable.Range(0, config.NRoutedExperts).OrderBy(_ => rng.Next()).Take(k))];
            RoutePreview preview = await cluster.Client.GetGrain<IExpertRouterGrain>(0).Route(moe, k, ids);
            Assert.Equal(map.Version, preview.Version);
            Assert.Contains(nodes, n => n.Self.Silo.Value == preview.RoutedBy);
            for (int i = 0; i < ids.Length; i++)
            {
                Assert.True(map.Holds(new SiloId(preview.Holders[i]), moe, ids[i]), $"slot {i}: expert {ids[i]} sent to {preview.Holders[i]}, which does not hold it");
            }

            Assert.All(preview.NodesSpanned, n => Assert.InRange(n, 1, 4));
            await Assert.ThrowsAnyAsync<ArgumentException>(() => cluster.Client.GetGrain<IExpertRouterGrain>(0).Route(moe, k, [1, 2, 3]));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>Until every node runs with a committed placement that spans all of them, and holds only what it gives it.</summary>
    internal static async Task WhenPlacedOverAll(ClusterNode[] nodes, TimeSpan timeout)
    {
        for (var deadline = DateTime.UtcNow + timeout; DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            if (nodes.All(n => n.Settled && n.View.Current is { } map && map.MemberCount == nodes.Length && nodes.All(o => map.IndexOf(o.Self.Silo) >= 0)))
            {
                return;
            }
        }

        Assert.Fail($"no placement over all {nodes.Length} silos within {timeout.TotalSeconds} s: " +
            string.Join("; ", nodes.Select(n => $"{n.Self}: {n.View.Current?.Stamp.ToString() ?? "none"} over {n.View.Current?.MemberCount ?? 0}")));
    }
}

/// <summary>Configures each test silo as a cluster member serving the model in the test cluster's properties.</summary>
public sealed class ClusterSiloConfigurator : ISiloConfigurator
{
    public const string ModelKey = "R1:Model";

    /// <summary>One node name for every silo (default: a node per silo).</summary>
    public const string NodeKey = "R1:Node";

    /// <summary>Redundant expert slots for the load balancer (default 0).</summary>
    public const string RedundantExpertsKey = "R1:RedundantExperts";

    /// <summary>Copies of every expert (--expert-replicas, default 1).</summary>
    public const string ExpertReplicasKey = "R1:ExpertReplicas";

    /// <summary>How long a silo keeps serving a replaced placement version, in ms (default 200).</summary>
    public const string RetireGraceKey = "R1:RetireGraceMs";

    /// <summary>Bias mode: "γ,max drift,interval in ms" (default off).</summary>
    public const string OnlineBiasKey = "R1:OnlineBias";

    public void Configure(ISiloBuilder siloBuilder)
    {
        ArgumentNullException.ThrowIfNull(siloBuilder);
        string model = siloBuilder.Configuration[ModelKey] ?? throw new InvalidOperationException($"{ModelKey} is not set");
        string name = siloBuilder.Configuration["Orleans:Name"] ?? "silo";
        siloBuilder.AddR1LoadStreams();
        siloBuilder.Services.AddR1Cluster(new ClusterNodeOptions
        {
            ModelDirectory = model,
            Node = siloBuilder.Configuration[NodeKey] ?? $"node-{name}",
            HolderParallelism = 1,
            Exchange = ClusterNodeOptions.ExchangeOrleans,
            PollInterval = TimeSpan.FromMilliseconds(50),
            RetireGrace = TimeSpan.FromMilliseconds(int.TryParse(siloBuilder.Configuration[RetireGraceKey], out int grace) ? grace : 200),
            LoadWindow = TimeSpan.FromMilliseconds(200),
            RedundantExperts = int.TryParse(siloBuilder.Configuration[RedundantExpertsKey], out int redundant) ? redundant : 0,
            ExpertReplicas = int.TryParse(siloBuilder.Configuration[ExpertReplicasKey], out int replicas) ? replicas : 1,
            OnlineBias = siloBuilder.Configuration[OnlineBiasKey]?.Split(',') is [string gamma, string drift, string ms]
                ? new ClusterGateBiasOptions(double.Parse(gamma, CultureInfo.InvariantCulture), double.Parse(drift, CultureInfo.InvariantCulture), TimeSpan.FromMilliseconds(int.Parse(ms, CultureInfo.InvariantCulture)))
                : null,
        });
    }
}
