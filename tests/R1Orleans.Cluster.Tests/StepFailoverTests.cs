using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Conformance;
using R1Orleans.Engine;
using R1Orleans.Placement;
using R1Orleans.TestSupport;
using R1Orleans.Transport.Cluster;
using static R1Orleans.Cluster.Tests.DistributedEqualsSingleProcessTests;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// A holder lost in the middle of a step (gone, or silent past the step deadline): its rows are re-dispatched in the same
/// step, to a replica or to the holders of the next placement, and the result is bitwise the single process's.
/// </summary>
public sealed class StepFailoverTests
{
    private static readonly string s_case = GoldenDirectory.Case("tiny-bf16-yarn");

    [Fact]
    public void With_two_replicas_a_holder_killed_before_a_step_is_replaced_in_that_step_by_a_replica()
    {
        GoldenReport single = GoldenChecker.Check(s_case, new CpuBackend(1));
        ClusterMember[] members = Members(3);
        PlacementMap map = PlacementPlanner.For(ModelConfigOf(s_case), replicas: 2).Plan(members);
        using var cluster = InMemoryCluster.Start(s_case, map);
        SiloId dead = FirstRemoteHolder(map, members[0].Silo);
        cluster.Kill(dead);

        GoldenReport distributed = GoldenChecker.Check(s_case, new CpuBackend(1), exchange: cluster.RankOn(members[0], recoveryTimeout: TimeSpan.FromSeconds(5)));

        AssertSameBits(single.Trace!, distributed.Trace!, "a replica standing in for a dead holder");
        ClusterExpertExchange exchange = cluster.Exchanges.Single();
        Assert.True(exchange.Statistics.Failovers >= 1 && exchange.Statistics.RedispatchedRows > 0, "no step was re-dispatched");
        Assert.True(exchange.Suspects.IsSuspect(dead));
        Assert.Equal(1, exchange.Suspects.Suspicions);
    }

    [Fact]
    public void With_two_replicas_a_paused_holder_is_passed_over_at_the_step_deadline_and_the_bits_do_not_change()
    {
        GoldenReport single = GoldenChecker.Check(s_case, new CpuBackend(1));
        ClusterMember[] members = Members(3);
        PlacementMap map = PlacementPlanner.For(ModelConfigOf(s_case), replicas: 2).Plan(members);
        using var cluster = InMemoryCluster.Start(s_case, map);
        SiloId paused = FirstRemoteHolder(map, members[0].Silo);
        cluster.Pause(paused);
        try
        {
            GoldenReport distributed = GoldenChecker.Check(s_case, new CpuBackend(1), exchange: cluster.RankOn(members[0], deadline: TimeSpan.FromMilliseconds(300), recoveryTimeout: TimeSpan.FromSeconds(5)));
            AssertSameBits(single.Trace!, distributed.Trace!, "a replica standing in for a paused holder");
        }
        finally
        {
            cluster.Resume(paused);
        }

        ClusterExpertExchange exchange = cluster.Exchanges.Single();
        Assert.True(exchange.Suspects.IsSuspect(paused));
        Assert.True(exchange.Statistics.Failovers >= 1);
    }

    [Fact]
    public void With_two_replicas_a_holder_slowed_past_the_deadline_by_fault_injection_is_detected_by_the_deadline_and_the_bits_do_not_change()
    {
        GoldenReport single = GoldenChecker.Check(s_case, new CpuBackend(1));
        ClusterMember[] members = Members(3);
        PlacementMap map = PlacementPlanner.For(ModelConfigOf(s_case), replicas: 2).Plan(members);
        using var cluster = InMemoryCluster.Start(s_case, map);
        SiloId slowed = FirstRemoteHolder(map, members[0].Silo);
        cluster.Holders[slowed].ReplyDelay.Set(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1));
        var causes = new System.Collections.Concurrent.ConcurrentBag<ExpertStepFailure>();
        ExpertExchangeFactory factory = cluster.RankOn(members[0], deadline: TimeSpan.FromMilliseconds(300), recoveryTimeout: TimeSpan.FromSeconds(5));

        GoldenReport distributed = GoldenChecker.Check(s_case, new CpuBackend(1), exchange: (config, experts) =>
        {
            var exchange = (ClusterExpertExchange)factory(config, experts);
            exchange.Statistics.FailureDetected += (cause, _) => causes.Add(cause);
            return exchange;
        });
        ClusterExpertExchange rank = cluster.Exchanges.Single();

        AssertSameBits(single.Trace!, distributed.Trace!, "a replica standing in for a slowed holder");
        Assert.True(rank.Suspects.IsSuspect(slowed));
        Assert.True(rank.Statistics.Failovers >= 1, "no step was re-dispatched");
        Assert.NotEmpty(causes);
        Assert.All(causes, c => Assert.Equal(ExpertStepFailure.DeadlineExceeded, c));
        Assert.Equal(rank.Statistics.FailedCalls, causes.Count);
    }

    [Fact]
    public async Task Without_replicas_a_holder_paused_past_the_deadline_is_tried_again_until_it_answers_and_the_bits_do_not_change()
    {
        GoldenReport single = GoldenChecker.Check(s_case, new CpuBackend(1));
        ClusterMember[] members = Members(3);
        PlacementMap map = PlacementPlanner.For(ModelConfigOf(s_case)).Plan(members);
        using var cluster = InMemoryCluster.Start(s_case, map);
        SiloId paused = FirstRemoteHolder(map, members[0].Silo);
        cluster.Pause(paused);

        // The SIGCONT of a gray failure: a second later the holder runs again (no placement change happens meanwhile).
        Task resume = Task.Run(async () =>
        {
            for (var until = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < until && (cluster.Exchanges.Count == 0 || cluster.Exchanges[0].Suspects.Suspicions == 0);)
            {
                await Task.Delay(5);
            }

            await Task.Delay(1000);
            cluster.Resume(paused);
        });

        GoldenReport distributed = GoldenChecker.Check(s_case, new CpuBackend(1), exchange: cluster.RankOn(members[0], deadline: TimeSpan.FromMilliseconds(200), recoveryTimeout: TimeSpan.FromSeconds(60)));
        await resume;

        AssertSameBits(single.Trace!, distributed.Trace!, "a paused holder waited for");
        Assert.True(cluster.Exchanges.Single().Statistics.Failovers >= 1);
    }

    [Fact]
    public async Task Without_replicas_a_step_waits_for_the_next_placement_and_the_survivors_run_the_lost_experts()
    {
        GoldenReport single = GoldenChecker.Check(s_case, new CpuBackend(1));
        ModelConfig config = ModelConfigOf(s_case);
        ClusterMember[] members = Members(3);
        PlacementPlanner planner = PlacementPlanner.For(config);
        using var cluster = InMemoryCluster.Start(s_case, planner.Plan(members));
        SiloId dead = members[2].Silo;
        cluster.Kill(dead);

        // The control plane's part, as the directory does it when membership declares the silo dead: once the rank has
        // noticed (a suspicion), a placement over the survivors; the waiting step continues on it.
        using var replanned = new ManualResetEventSlim();
        Task controlPlane = Task.Run(() =>
        {
            for (var until = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < until && (cluster.Exchanges.Count == 0 || cluster.Exchanges[0].Suspects.Suspicions == 0);)
            {
                Thread.Sleep(5);
            }

            cluster.Replan(planner, members.Take(2));
            replanned.Set();
        });

        GoldenReport distributed = GoldenChecker.Check(s_case, new CpuBackend(1), exchange: cluster.RankOn(members[0], recoveryTimeout: TimeSpan.FromSeconds(60)));
        await controlPlane;

        Assert.True(replanned.IsSet);
        AssertSameBits(single.Trace!, distributed.Trace!, "survivors running a dead holder's experts");
        Assert.True(cluster.Exchanges.Single().Statistics.Failovers >= 1);
        Assert.Equal(2, cluster.View.Current!.MemberCount);
    }

    [Fact]
    public void Without_replicas_and_without_a_new_placement_the_step_fails_naming_the_silo_the_layer_and_the_expert()
    {
        ClusterMember[] members = Members(3);
        PlacementMap map = PlacementPlanner.For(ModelConfigOf(s_case)).Plan(members);
        using var cluster = InMemoryCluster.Start(s_case, map);
        cluster.Kill(members[2].Silo);

        var e = Assert.Throws<ExpertStepFailedException>(() => GoldenChecker.Check(s_case, new CpuBackend(1), exchange: cluster.RankOn(members[0], recoveryTimeout: TimeSpan.FromMilliseconds(300))));
        Assert.Equal(ExpertStepFailure.Unreachable, e.Failure);
        Assert.Equal(members[2].Silo, e.Holder);
        Assert.Contains($"expert holder {members[2].Silo}", e.Message, StringComparison.Ordinal);
        Assert.Contains("has no live holder and no placement gave it one", e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Layer, map.Layout.MoeLayers);
    }

    /// <summary>The silo a rank on <paramref name="rank"/> sends to first: replica 0 of the first expert it does not hold.</summary>
    private static SiloId FirstRemoteHolder(PlacementMap map, SiloId rank)
    {
        int layer = map.Layout.MoeLayers[0];
        return Enumerable.Range(0, map.Layout.Experts).Where(e => !map.Holds(rank, layer, e)).Select(e => map.Holders(layer, e)[0]).First();
    }
}
