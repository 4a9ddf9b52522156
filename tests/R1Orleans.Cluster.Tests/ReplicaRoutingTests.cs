using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Conformance;
using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;
using R1Orleans.TestSupport;
using R1Orleans.Transport.Cluster;
using static R1Orleans.Cluster.Tests.DistributedEqualsSingleProcessTests;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// A rank that routes by the load balancer's planned replica weights over an EPLB placement with redundant experts:
/// the outputs are the single process's bits, the tokens of a replicated expert are spread over its replicas (its own
/// silo's copy included, not preferred), and the rank's load window counts them per replica of the published map.
/// </summary>
public sealed class ReplicaRoutingTests
{
    [Fact]
    public void Weighted_replica_routing_over_an_eplb_placement_gives_the_single_process_bits_and_counts_every_replica()
    {
        string directory = GoldenDirectory.Case("tiny-bf16-yarn");
        GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
        ModelConfig config = ModelConfigOf(directory);
        ExpertLayout layout = ExpertLayout.From(config);
        ClusterMember[] members = [.. Enumerable.Range(0, 3).Select(i => new ClusterMember($"S127.0.0.1:{20000 + i}:1", "node-0"))];

        // Hot low-numbered experts: with 8 redundant slots the hottest get a copy on every silo.
        ExpertLoadEstimate load = ExpertLoadEstimate.FromLoads(layout, [.. layout.MoeLayers.Select(_ => (IReadOnlyList<double>)[.. Enumerable.Range(0, layout.Experts).Select(e => 1000.0 / (e + 1))])]);
        EplbPlan plan = new EplbPlanner(layout, redundantExperts: 8).Plan(members, load);
        Assert.Equal(3, plan.Map.Holders(layout.MoeLayers[0], 0).Count);
        using var cluster = InMemoryCluster.Start(directory, plan.Map);
        ClusterMember rank = members[0];

        GoldenReport distributed = GoldenChecker.Check(directory, new CpuBackend(1), exchange: cluster.RankOn(rank, replicaPreference: _ => new WeightedReplicaPreference(plan.Weights)));

        AssertSameBits(single.Trace!, distributed.Trace!, "weighted replica routing");
        ClusterExpertExchange exchange = cluster.Exchanges.Single();
        ExpertLoadWindow window = exchange.Load.CloseWindow(rank.Silo);
        Assert.Equal(plan.Map.Version, window.PlacementVersion);
        Assert.True(window.SinglePlacement);
        Assert.Equal(layout.MoeLayers.Sum(l => Enumerable.Range(0, layout.Experts).Sum(e => exchange.Load.Tokens(l, e))), window.TotalTokens);
        Assert.All(window.Counts, c => Assert.InRange(c.Replica, 0, plan.Map.Holders(c.Layer, c.Expert).Count - 1));

        // Experts with a copy on the rank's silo still send tokens to their other copies.
        long elsewhere = window.Counts
            .Where(c => plan.Map.Holds(rank.Silo, c.Layer, c.Expert) && plan.Map.Holders(c.Layer, c.Expert)[c.Replica] != rank.Silo)
            .Sum(c => c.Tokens);
        Assert.True(elsewhere > 0, "every token of an expert held locally stayed local");
        Assert.Contains(window.Counts, c => c.Replica > 0);
    }
}
