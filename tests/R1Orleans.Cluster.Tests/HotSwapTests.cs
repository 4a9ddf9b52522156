using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.Grains.Balancing;
using Xunit.Abstractions;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// Issue 18's loop on an Orleans test cluster: each silo's rank publishes its windows of expert load on the load
/// balancer's stream; a rebalance plans EPLB replicas and repacking from them and hot-swaps the placement while a rank
/// is decoding; the rank's bits stay the single process's, and the silos' measured expert load is more even after.
/// </summary>
public sealed class HotSwapTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_rebalance_under_load_hot_swaps_a_planned_placement_without_changing_a_bit()
    {
        string directory = Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");
        GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
        var builder = new TestClusterBuilder(3);
        builder.Properties[ClusterSiloConfigurator.ModelKey] = directory;
        builder.Properties[ClusterSiloConfigurator.RedundantExpertsKey] = "4";
        builder.Properties[ClusterSiloConfigurator.NodeKey] = "one-host"; // EPLB's hierarchical policy copies hot experts within a node
        builder.Properties[ClusterSiloConfigurator.RetireGraceKey] = "5000"; // the silo's default: a step in flight finishes on its version
        builder.AddSiloBuilderConfigurator<ClusterSiloConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            ClusterNode[] nodes = [.. cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<ClusterNode>())];
            await OrleansClusterTests.WhenPlacedOverAll(nodes, TimeSpan.FromSeconds(60));
            long before = nodes[0].View.Current!.Version;

            // Load first: every rank runs the golden prompts once, and the balancer hears of it.
            ILoadBalancerGrain balancer = cluster.Client.GetGrain<ILoadBalancerGrain>(LoadStreams.Key);
            long[] ranFirst = await RunOnEveryRank(nodes, directory, single);
            for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); (await balancer.Report()).Silos.Length < nodes.Length; await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, "the load balancer heard from fewer silos than there are within 30 s");
            }

            // The swap while the last rank decodes without a pause (golden runs back to back, until one of its steps ran
            // on a newer placement; bounded): its steps finish on the version they started with, its bits stay.
            var steps = new SortedDictionary<long, long>(); // the decoding rank's steps by placement version, over its runs
            long mixed = 0;
            var firstRunDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<int> during = Task.Run(() =>
            {
                int runs = 0;
                for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120); runs < 60 && DateTime.UtcNow < deadline && !steps.Keys.Any(v => v > before); runs++)
                {
                    GoldenReport r = GoldenChecker.Check(directory, new CpuBackend(1), exchange: nodes[^1].RankExchange);
                    DistributedEqualsSingleProcessTests.AssertSameBits(single.Trace!, r.Trace!, $"a rank decoding across the hot swap (run {runs})");
                    var statistics = nodes[^1].RankExchangeInstance!.Statistics; // this run's exchange
                    foreach ((long version, long n) in statistics.StepsByVersion)
                    {
                        steps[version] = steps.GetValueOrDefault(version) + n;
                    }

                    mixed += statistics.MixedVersionSteps;
                    firstRunDone.TrySetResult();
                }

                firstRunDone.TrySetResult();
                return runs;
            });

            // Swap only once the rank has decoded on the old placement (else, on a slow machine, its first step can come
            // after the commit and the check below sees one version only), while it keeps decoding.
            await firstRunDone.Task.WaitAsync(TimeSpan.FromSeconds(120));
            RebalanceReport report = await balancer.Rebalance(force: true);
            output.WriteLine($"rebalance: {report}");
            Assert.True(report.Proposed, report.Outcome);
            Assert.True(report.PlannedImbalance <= report.CurrentImbalance, $"planned {report.PlannedImbalance}, current {report.CurrentImbalance}");
            int runs = await during;

            // No step mixed versions: each ran all its MoE layers on the placement it started with; and the rank
            // decoding across the swap ran steps on both (else this would check nothing).
            output.WriteLine($"{runs} golden runs across the swap; steps by version on the decoding rank: {string.Join(", ", steps.Select(p => $"v{p.Key}: {p.Value}"))}; {mixed} mixed");
            Assert.Contains(before, steps.Keys);
            Assert.Contains(report.Version!.Value, steps.Keys);
            Assert.Equal(0, mixed);

            for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); !nodes.All(n => n.View.Current?.Version == report.Version && n.Settled); await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, $"placement v{report.Version} was not live and settled on every silo within 60 s");
            }

            Assert.True(report.Version > before);
            Assert.Contains(nodes[0].View.Current!.Layout.MoeLayers, l => Enumerable.Range(0, nodes[0].View.Current!.Layout.Experts).Any(e => nodes[0].View.Current!.Holders(l, e).Count > 1));

            // After: the same work, now routed by the planned weights over the new replicas.
            long[] ranAfter = await RunOnEveryRank(nodes, directory, single);
            double imbalanceFirst = Imbalance(ranFirst), imbalanceAfter = Imbalance(ranAfter);
            output.WriteLine($"tokens run per silo before {string.Join("/", ranFirst)} (max/mean - 1 = {imbalanceFirst:0.###}), after {string.Join("/", ranAfter)} ({imbalanceAfter:0.###})");
            Assert.True(imbalanceAfter < imbalanceFirst, $"measured (max-mean)/mean by silo {imbalanceAfter:0.###} after the swap, {imbalanceFirst:0.###} before");
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>Runs the golden prompts on every silo's rank (checking its bits) and returns the tokens each silo's holder ran meanwhile.</summary>
    private static async Task<long[]> RunOnEveryRank(ClusterNode[] nodes, string directory, GoldenReport single)
    {
        long[] start = [.. nodes.Select(n => n.Holder!.Load.Total)];
        await Task.WhenAll(nodes.Select(n => Task.Run(() =>
        {
            GoldenReport r = GoldenChecker.Check(directory, new CpuBackend(1), exchange: n.RankExchange);
            DistributedEqualsSingleProcessTests.AssertSameBits(single.Trace!, r.Trace!, $"rank on {n.Self}");
        })));
        return [.. nodes.Select((n, i) => n.Holder!.Load.Total - start[i])];
    }

    private static double Imbalance(long[] load) => (load.Max() - load.Average()) / load.Average();
}
