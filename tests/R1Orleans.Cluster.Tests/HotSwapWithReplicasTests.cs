using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;
using Orleans.TestingHost;
using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.Grains.Balancing;
using R1Orleans.Placement;
using Xunit.Abstractions;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// A cluster started with --expert-replicas 2 rebalances too: under a load with one hot expert per layer (a window
/// published on the balancer's stream as a silo would), the planned placement keeps two copies of every expert on
/// distinct silos (any one silo may fail and every expert still has a holder), gives the hot expert a third copy from
/// the redundant slots, is hot-swapped in, and a rank's bits stay the single process's.
/// </summary>
public sealed class HotSwapWithReplicasTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_rebalance_with_two_replicas_keeps_a_spare_of_every_expert_and_every_bit()
    {
        string directory = Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");
        GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
        var builder = new TestClusterBuilder(3);
        builder.Properties[ClusterSiloConfigurator.ModelKey] = directory;
        builder.Properties[ClusterSiloConfigurator.RedundantExpertsKey] = "4";
        builder.Properties[ClusterSiloConfigurator.ExpertReplicasKey] = "2";
        builder.Properties[ClusterSiloConfigurator.NodeKey] = "one-host"; // hot copies go within a node: 3 silos give room for a third
        builder.AddSiloBuilderConfigurator<ClusterSiloConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            ClusterNode[] nodes = [.. cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<ClusterNode>())];
            await OrleansClusterTests.WhenPlacedOverAll(nodes, TimeSpan.FromSeconds(60));
            PlacementMap first = nodes[0].View.Current!;
            AssertEverySiloHasASpare(first);

            // The load: expert 5 of every MoE layer takes 1,000 tokens a second, the others 10.
            ExpertLayout layout = nodes[0].Layout;
            int[] layers = [.. layout.MoeLayers.SelectMany(l => Enumerable.Repeat(l, layout.Experts))];
            int[] experts = [.. layout.MoeLayers.SelectMany(_ => Enumerable.Range(0, layout.Experts))];
            var window = new ExpertLoadWindowDto(
                "load-generator", 1, first.Version, first.Version, TimeSpan.FromSeconds(1).Ticks, layers, experts, new int[layers.Length], [.. experts.Select(e => e == 5 ? 1000L : 10L)]);
            IClusterClient client = ((InProcessSiloHandle)cluster.Silos[0]).SiloHost.Services.GetRequiredService<IClusterClient>();
            await client.GetStreamProvider(LoadStreams.Provider).GetStream<ExpertLoadWindowDto>(StreamId.Create(LoadStreams.Namespace, LoadStreams.Key)).OnNextAsync(window);
            ILoadBalancerGrain balancer = cluster.Client.GetGrain<ILoadBalancerGrain>(LoadStreams.Key);
            for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); !(await balancer.Report()).Silos.Contains("load-generator"); await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, "the load balancer did not take the window within 30 s");
            }

            RebalanceReport report = await balancer.Rebalance(force: false);
            output.WriteLine($"rebalance: {report}");
            Assert.True(report.Proposed, report.Outcome);
            Assert.True(report.PlannedImbalance < report.CurrentImbalance, $"planned {report.PlannedImbalance}, current {report.CurrentImbalance}");
            for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); !nodes.All(n => n.View.Current?.Version == report.Version && n.Settled); await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, $"placement v{report.Version} was not live and settled on every silo within 60 s");
            }

            PlacementMap planned = nodes[0].View.Current!;
            Assert.True(planned.Version > first.Version);
            AssertEverySiloHasASpare(planned);
            Assert.All(layout.MoeLayers, l => Assert.Equal(3, planned.Holders(l, 5).Count));

            // A rank's golden runs over the new placement (every holder, the hot expert's three copies by their weights).
            GoldenReport after = GoldenChecker.Check(directory, new CpuBackend(1), exchange: nodes[^1].RankExchange);
            DistributedEqualsSingleProcessTests.AssertSameBits(single.Trace!, after.Trace!, $"rank on {nodes[^1].Self} after the swap");
            Assert.All(nodes.SkipLast(1), n => Assert.True(n.Holder!.Load.Total > 0, $"{n.Self} ran no expert for the rank"));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>Every expert has at least two holders (distinct silos: the map checks it), so without any one silo every expert still has one.</summary>
    private static void AssertEverySiloHasASpare(PlacementMap map)
    {
        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int e = 0; e < map.Layout.Experts; e++)
            {
                Assert.True(map.Holders(layer, e).Count >= 2, $"placement v{map.Version}: layer {layer} expert {e} has {map.Holders(layer, e).Count} holder(s)");
            }
        }

        foreach (ClusterMember m in map.Members)
        {
            Assert.All(map.Layout.MoeLayers, l => Assert.All(Enumerable.Range(0, map.Layout.Experts), e => Assert.Contains(map.Holders(l, e), h => h != m.Silo)));
        }
    }
}
