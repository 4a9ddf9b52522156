using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Conformance;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.TestSupport;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// Every golden case through a rank whose experts are spread over 2, 3 and 4 silos (in one process, through the
/// exchange's request bytes): the prefill logits, the routing of every MoE layer, the MTP logits and the greedy tokens
/// are bitwise those of the single process, and the golden checks against transformers pass.
/// </summary>
public sealed class DistributedEqualsSingleProcessTests
{
    public static TheoryData<string> Cases() => [.. Directories()];

    /// <summary>Every golden model case and the shipped trained model (with its own golden file).</summary>
    internal static IEnumerable<string> Directories() =>
        GoldenDirectory.ModelCaseNames.Select(GoldenDirectory.Case).Append(Path.Combine(RepositoryRoot, "models", "r1orleans-tiny"));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Group_aligned_placements_over_2_3_and_4_silos_give_the_single_process_bits(string directory)
    {
        GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
        Assert.True(single.Passed, single.ToString());
        ModelConfig config = ModelConfigOf(directory);
        foreach (int silos in (int[])[2, 3, 4])
        {
            ClusterMember[] members = Members(silos);
            PlacementMap map = PlacementPlanner.For(config).Plan(members);
            using var cluster = InMemoryCluster.Start(directory, map);

            // The rank sits on the last silo: some of its experts are local, most are not.
            GoldenReport distributed = GoldenChecker.Check(directory, new CpuBackend(1), exchange: cluster.RankOn(members[^1]));

            AssertSameBits(single.Trace!, distributed.Trace!, $"{Path.GetFileName(directory)} on {silos} silos");
            Assert.True(distributed.Passed, distributed.ToString());
            Assert.All(members, m => Assert.InRange(cluster.ExpertsHeld[m.Silo], 1, TotalExperts(config) - 1));
            Assert.All(members.Where(m => m != members[^1]), m => Assert.True(cluster.Holders[m.Silo].Load.Total > 0, $"{m} ran no expert"));
            Assert.True(cluster.Exchanges.Single().Statistics.SentMessages > 0);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_rank_that_holds_none_of_its_experts_gives_the_single_process_bits(string directory)
    {
        GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
        ModelConfig config = ModelConfigOf(directory);
        ClusterMember[] members = Members(3);
        ClusterMember rank = members[0];

        // Every expert on a silo other than the rank's, scattered expert by expert (not group-aligned).
        ExpertLayout layout = ExpertLayout.From(config);
        var holders = layout.MoeLayers.Select(l => (IReadOnlyList<IReadOnlyList<SiloId>>)Enumerable.Range(0, layout.Experts)
            .Select(e => (IReadOnlyList<SiloId>)[members[1 + ((e + l) % 2)].Silo]).ToList()).ToList();
        PlacementMap map = PlacementMap.Create(1, 1, members, layout, holders);
        using var cluster = InMemoryCluster.Start(directory, map);

        GoldenReport distributed = GoldenChecker.Check(directory, new CpuBackend(1), exchange: cluster.RankOn(rank));

        AssertSameBits(single.Trace!, distributed.Trace!, $"{Path.GetFileName(directory)}, every expert remote");
        Assert.Equal(0, cluster.ExpertsHeld[rank.Silo]);
        Assert.Equal(0, cluster.Holders[rank.Silo].Load.Total);
    }

    [Theory]
    [InlineData("posix,cma,self")]
    [InlineData("tcp,self")]
    public void Over_ucx_every_golden_case_gives_the_single_process_bits(string tls)
    {
        foreach (string directory in Directories())
        {
            GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
            ClusterMember[] members = Members(3);
            PlacementMap map = PlacementPlanner.For(ModelConfigOf(directory)).Plan(members);
            using var cluster = InMemoryCluster.StartOverUcx(directory, map, tls);

            GoldenReport distributed = GoldenChecker.Check(directory, new CpuBackend(1), exchange: cluster.RankOn(members[0]));

            AssertSameBits(single.Trace!, distributed.Trace!, $"{Path.GetFileName(directory)} over UCX {tls}");
            ClusterExpertExchangeStats(cluster, members);
        }
    }

    private static void ClusterExpertExchangeStats(InMemoryCluster cluster, ClusterMember[] members)
    {
        var stats = cluster.Exchanges.Single().Statistics;
        // Every message sent is answered or failed (a reply slower than the deadline on a loaded machine is re-dispatched:
        // the bits above are the same either way).
        Assert.True(stats.SentMessages > 0 && stats.ReceivedMessages + stats.FailedCalls == stats.SentMessages,
            $"{stats.SentMessages} sent, {stats.ReceivedMessages} received, {stats.FailedCalls} failed");
        Assert.All(members.Skip(1), m => Assert.True(cluster.Holders[m.Silo].Load.Total > 0, $"{m} ran no expert"));
    }

    internal static void AssertSameBits(GoldenTrace expected, GoldenTrace actual, string what)
    {
        Assert.True(expected.PrefillLogits.AsSpan().SequenceEqual(actual.PrefillLogits), $"{what}: prefill logits differ");
        Assert.Equal(expected.Routing.Keys.Order(), actual.Routing.Keys.Order());
        foreach ((int layer, ExpertRouting r) in expected.Routing)
        {
            Assert.True(r.TopkIds.AsSpan().SequenceEqual(actual.Routing[layer].TopkIds), $"{what}: layer {layer} routing differs");
            Assert.True(r.TopkWeights.AsSpan().SequenceEqual(actual.Routing[layer].TopkWeights), $"{what}: layer {layer} weights differ");
        }

        Assert.Equal(expected.MtpLogits is null, actual.MtpLogits is null);
        if (expected.MtpLogits is not null)
        {
            Assert.True(expected.MtpLogits.AsSpan().SequenceEqual(actual.MtpLogits), $"{what}: MTP logits differ");
        }

        Assert.Equal(expected.Greedy, actual.Greedy);
    }

    internal static ClusterMember[] Members(int silos) =>
        [.. Enumerable.Range(0, silos).Select(i => new ClusterMember($"S127.0.0.1:{20000 + i}:1", $"node-{i}"))];

    internal static ModelConfig ModelConfigOf(string directory)
    {
        using CheckpointReader reader = CheckpointReader.Open(directory);
        return reader.Config;
    }

    private static int TotalExperts(ModelConfig c) => ExpertLayout.From(c).MoeLayers.Count * c.NRoutedExperts;

    internal static string RepositoryRoot
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "R1Orleans.sln")))
                {
                    return d.FullName;
                }
            }

            throw new DirectoryNotFoundException($"R1Orleans.sln not found above {AppContext.BaseDirectory}");
        }
    }
}
