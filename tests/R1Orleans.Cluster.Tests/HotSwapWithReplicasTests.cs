using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.Grains.Balancing;
using R1Orleans.Placement;
using Xunit.Abstractions;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// A cluster started with --expert-replicas 2 rebalances too: the planned placement keeps two copies of every expert
/// on two nodes (the failover spare survives), adds copies of hot experts in the redundant slots, and every rank's bits
/// stay the single process's.
/// </summary>
public sealed class HotSwapWithReplicasTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_rebalance_with_two_replicas_keeps_a_spare_of_every_expert_on_another_node_and_every_bit()
    {
        string directory = Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");
        GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
        var builder = new TestClusterBuilder(3);
        builder.Properties[ClusterSiloConfigurator.ModelKey] = directory;
        builder.Properties[ClusterSiloConfigurator.RedundantExpertsKey] = "4";
        builder.Properties[ClusterSiloConfigurator.ExpertReplicasKey] = "2"; // a node per silo (the default): copies on distinct nodes
        builder.AddSiloBuilderConfigurator<ClusterSiloConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            ClusterNode[] nodes = [.. cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<ClusterNode>())];
            await OrleansClusterTests.WhenPlacedOverAll(nodes, TimeSpan.FromSeconds(60));
            long before = nodes[0].View.Current!.Version;
            AssertTwoCopiesOnTwoNodes(nodes[0].View.Current!);

            ILoadBalancerGrain balancer = cluster.Client.GetGrain<ILoadBalancerGrain>(LoadStreams.Key);
            await RunOnEveryRank(nodes, directory, single);
            for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); (await balancer.Report()).Silos.Length < nodes.Length; await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, "the load balancer heard from fewer silos than there are within 30 s");
            }

            RebalanceReport report = await balancer.Rebalance(force: true);
            output.WriteLine($"rebalance: {report}");
            Assert.True(report.Proposed, report.Outcome);
            Assert.True(report.PlannedImbalance <= report.CurrentImbalance, $"planned {report.PlannedImbalance}, current {report.CurrentImbalance}");
            for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); !nodes.All(n => n.View.Current?.Version == report.Version && n.Settled); await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, $"placement v{report.Version} was not live and settled on every silo within 60 s");
            }

            PlacementMap planned = nodes[0].View.Current!;
            Assert.True(planned.Version > before);
            AssertTwoCopiesOnTwoNodes(planned);
            Assert.Contains(planned.Layout.MoeLayers, l => Enumerable.Range(0, planned.Layout.Experts).Any(e => planned.Holders(l, e).Count > 2));

            await RunOnEveryRank(nodes, directory, single);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private static void AssertTwoCopiesOnTwoNodes(PlacementMap map)
    {
        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int e = 0; e < map.Layout.Experts; e++)
            {
                int[] holders = map.HolderIndexes(layer, e).ToArray();
                Assert.True(holders.Length >= 2, $"placement v{map.Version}: layer {layer} expert {e} has {holders.Length} holder(s)");
                Assert.True(holders.Select(map.NodeOf).Distinct().Count() >= 2, $"placement v{map.Version}: layer {layer} expert {e} is on one node");
            }
        }
    }

    /// <summary>Runs the golden prompts on every silo's rank, checking its bits against the single process.</summary>
    private static Task RunOnEveryRank(ClusterNode[] nodes, string directory, GoldenReport single) =>
        Task.WhenAll(nodes.Select(n => Task.Run(() =>
        {
            GoldenReport r = GoldenChecker.Check(directory, new CpuBackend(1), exchange: n.RankExchange);
            DistributedEqualsSingleProcessTests.AssertSameBits(single.Trace!, r.Trace!, $"rank on {n.Self}");
        })));
}
