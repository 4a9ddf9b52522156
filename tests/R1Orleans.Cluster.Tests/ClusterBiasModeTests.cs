using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.TestingHost;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Gateway;
using R1Orleans.Grains.Balancing;
using R1Orleans.Model;
using Xunit.Abstractions;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// Bias mode on an Orleans test cluster of 3 silos, each serving r1orleans-tiny from its own engine over the cluster's
/// experts: a skewed workload (two prompts, repeated) makes the load balancer move one gate bias against the load of all
/// silos and push it to every rank. Every rank routes with the same versions (bit-identical values); the expert
/// imbalance of the same work falls; the drift stays within its maximum; a rank at a version answers exactly as one
/// process routing with that version does; and a silo that joins later is brought to the cluster's bias.
/// </summary>
public sealed class ClusterBiasModeTests(ITestOutputHelper output)
{
    private static readonly string[] s_skewed =
    [
        "In the beginning God created the heaven and the earth.",
        "The LORD is my shepherd; I shall not want.",
    ];

    private const double MaxDrift = 0.1;

    [Fact]
    public async Task Bias_mode_pushes_one_bias_to_every_rank_and_lowers_the_expert_imbalance_within_its_drift()
    {
        string directory = Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");
        var builder = new TestClusterBuilder(3);
        builder.Properties[ClusterSiloConfigurator.ModelKey] = directory;
        builder.Properties[ClusterSiloConfigurator.OnlineBiasKey] = $"0.01,{MaxDrift},250";
        builder.AddSiloBuilderConfigurator<ClusterSiloConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        var engines = new List<InferenceEngine>();
        try
        {
            IServiceProvider[] services = [.. cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services)];
            ClusterNode[] nodes = [.. services.Select(s => s.GetRequiredService<ClusterNode>())];
            await OrleansClusterTests.WhenPlacedOverAll(nodes, TimeSpan.FromSeconds(60));

            // Each silo serves its own engine over the cluster's experts, as a silo's model loader sets it up.
            foreach ((IServiceProvider s, ClusterNode node) in services.Zip(nodes))
            {
                InferenceEngine engine = InferenceEngine.Load(directory, new InferenceEngineOptions { KvCacheTokens = 4096, Threads = 1, Exchange = node.RankExchange });
                engines.Add(engine);
                s.GetRequiredService<ModelHost>().SetReady(engine, new ServedModelInfo("r1orleans-tiny", "test", "bias mode", DateTimeOffset.UtcNow));
            }

            ILoadBalancerGrain balancer = cluster.Client.GetGrain<ILoadBalancerGrain>(LoadStreams.Key);
            int[] moe = [.. engines[0].MoeLayers];
            int experts = engines[0].CheckpointGateBias.For(moe[0]).Length;

            // Rounds of the same skewed work on every rank; the first routes (almost all) with the checkpoint's bias.
            var imbalance = new List<double>();
            GateBiasReport? report = null;
            for (int round = 0; round < 14; round++)
            {
                long[][] before = Counts(engines, moe, experts);
                await Task.WhenAll(engines.Select(e => Task.Run(() => Generate(e, 10))));
                imbalance.Add(Imbalance(before, Counts(engines, moe, experts)));
                report = (await balancer.Report()).Bias;
                output.WriteLine($"round {round}: expert max/mean {imbalance[^1]:0.###}, bias v{report?.Version} after {report?.Updates} updates, ranks at {string.Join("/", engines.Select(e => e.CurrentGateBias.Version))}");
                if (round >= 6 && report is { Updates: >= 12 })
                {
                    break;
                }
            }

            Assert.NotNull(report);
            Assert.True(report.Updates >= 4, $"the load balancer made {report.Updates} bias updates");

            // Idle now: the last windows with tokens reach the balancer, then no new versions come (an update needs
            // routed tokens); every rank reaches the balancer's last one and it stays for a second (4 periods).
            long settledAt = -1;
            for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); ; await Task.Delay(250))
            {
                report = (await balancer.Report()).Bias!;
                bool reached = report.Version > 0 && engines.All(e => e.CurrentGateBias.Version == report.Version);
                if (reached && settledAt == report.Version)
                {
                    break;
                }

                if (reached && settledAt != report.Version)
                {
                    settledAt = report.Version;
                    await Task.Delay(1000);
                    continue;
                }

                settledAt = -1;
                Assert.True(DateTime.UtcNow < deadline, $"ranks at versions {string.Join("/", engines.Select(e => e.CurrentGateBias.Version))}, the balancer at {report.Version}, after 30 s idle");
            }

            // One bias everywhere, within its drift.
            GateBias pushed = engines[0].CurrentGateBias;
            foreach (InferenceEngine e in engines)
            {
                Assert.Equal(pushed.Version, e.CurrentGateBias.Version);
                Assert.Equal(moe, e.CurrentGateBias.Layers);
                Assert.All(moe, l => Assert.Equal(pushed.For(l).ToArray(), e.CurrentGateBias.For(l).ToArray()));
            }

            Assert.All(moe, l => Assert.InRange(pushed.Drift(engines[0].CheckpointGateBias, l), 0, MaxDrift));
            Assert.Contains(moe, l => pushed.Drift(engines[0].CheckpointGateBias, l) > 0);
            Assert.Equal(3, report.PushedTo.Length);

            // The same work is routed more evenly at the end than with the checkpoint's bias.
            Assert.True(imbalance[^1] < imbalance[0], $"expert max/mean of the same work: first round {imbalance[0]:0.###}, last {imbalance[^1]:0.###}");

            // A rank routing with the pushed values answers as one process routing with them (the bias is all that
            // changed). The silos stop publishing load first: the work below routes tokens, from which the balancer
            // would otherwise make new versions (continuing from the one set here, which it adopts) while it runs.
            foreach (IServiceProvider s in services)
            {
                await s.GetServices<IHostedService>().OfType<LoadWindowPublisher>().Single().StopAsync(CancellationToken.None);
            }

            var frozen = new GateBias(pushed.Version + 1000, pushed.ToDictionary());
            await using InferenceEngine single = InferenceEngine.Load(directory, new InferenceEngineOptions { KvCacheTokens = 4096, Threads = 1 });
            Assert.True(single.ApplyGateBias(frozen));
            int[][] expected = await Generate(single, 16);
            foreach (InferenceEngine e in engines)
            {
                e.ApplyGateBias(frozen); // false when the balancer already pushed it (it adopts the newest version it sees)
                Assert.Equal(frozen.Version, e.CurrentGateBias.Version);
                Assert.Equal(expected, await Generate(e, 16));
                Assert.Equal(frozen.Version, e.CurrentGateBias.Version);
            }

            // A silo that joins now routes with the checkpoint's bias until the balancer's next period pushes it the
            // cluster's (every period re-pushes the current version to every member).
            SiloHandle joined = await cluster.StartAdditionalSiloAsync();
            IServiceProvider js = ((InProcessSiloHandle)joined).SiloHost.Services;
            await OrleansClusterTests.WhenPlacedOverAll([.. nodes, js.GetRequiredService<ClusterNode>()], TimeSpan.FromSeconds(60));
            InferenceEngine late = InferenceEngine.Load(directory, new InferenceEngineOptions { KvCacheTokens = 4096, Threads = 1, Exchange = js.GetRequiredService<ClusterNode>().RankExchange });
            engines.Add(late);
            Assert.Equal(0, late.CurrentGateBias.Version);
            js.GetRequiredService<ModelHost>().SetReady(late, new ServedModelInfo("r1orleans-tiny", "test", "bias mode", DateTimeOffset.UtcNow));
            for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); late.CurrentGateBias.Version != frozen.Version; await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, $"the joined silo routes with bias v{late.CurrentGateBias.Version}, the cluster with v{frozen.Version}, 30 s after it served");
            }

            Assert.All(moe, l => Assert.Equal(frozen.For(l).ToArray(), late.CurrentGateBias.For(l).ToArray()));
            await js.GetServices<IHostedService>().OfType<LoadWindowPublisher>().Single().StopAsync(CancellationToken.None); // as above
            Assert.Equal(expected, await Generate(late, 16));
            Assert.Equal(frozen.Version, late.CurrentGateBias.Version);
        }
        finally
        {
            foreach (InferenceEngine e in engines)
            {
                await e.DisposeAsync();
            }

            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>Greedy completions of the skewed prompts (their tokens).</summary>
    private static async Task<int[][]> Generate(InferenceEngine engine, int tokens)
    {
        var all = new List<int[]>();
        foreach (string prompt in s_skewed)
        {
            var got = new List<int>();
            await foreach (TextEvent e in engine.GenerateAsync(PromptInput.FromText(prompt), SamplingParams.Greedy(tokens) with { IgnoreEos = true }))
            {
                Assert.Null(e.Error);
                got.Add(e.Token);
            }

            all.Add([.. got]);
        }

        return [.. all];
    }

    /// <summary>Tokens routed to each (layer, expert) so far, summed over the ranks.</summary>
    private static long[][] Counts(List<InferenceEngine> engines, int[] moe, int experts) =>
        [.. moe.Select(l => Enumerable.Range(0, experts).Select(x => engines.Sum(e => e.ExpertLoad.Tokens(l, x))).ToArray())];

    /// <summary>Σ over layers of max/mean routed tokens between two counts (layers that routed nothing left out).</summary>
    private static double Imbalance(long[][] before, long[][] after)
    {
        double sum = 0;
        for (int l = 0; l < before.Length; l++)
        {
            long[] d = [.. after[l].Zip(before[l], (a, b) => a - b)];
            long total = d.Sum();
            if (total > 0)
            {
                sum += d.Max() / ((double)total / d.Length);
            }
        }

        return sum;
    }
}
