using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.Placement;
using R1Orleans.TestSupport;
using R1Orleans.Transport.Cluster;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// A step whose holder does not serve the step's placement version, with no other holder and no newer placement, fails
/// with an error that names the silo and the layer: never a hang, never a skipped expert (a gone holder: StepFailoverTests).
/// </summary>
public sealed class ExchangeFailureTests
{
    private static readonly string s_case = GoldenDirectory.Case("tiny-bf16-yarn");

    [Fact]
    public void A_holder_that_moved_to_a_newer_placement_refuses_a_step_of_the_old_one()
    {
        ClusterMember[] members = DistributedEqualsSingleProcessTests.Members(2);
        PlacementMap map = PlacementPlanner.For(DistributedEqualsSingleProcessTests.ModelConfigOf(s_case)).Plan(members);
        using var cluster = InMemoryCluster.Start(s_case, map);
        HolderFence fence = cluster.Holders[members[1].Silo].Fence;
        var newer = new PlacementStamp(map.Version + 1, map.Epoch + 1);
        fence.Begin(newer);
        fence.Retire(map.Stamp);

        var e = Assert.Throws<ExpertStepFailedException>(() => GoldenChecker.Check(s_case, new CpuBackend(1), exchange: cluster.RankOn(members[0], recoveryTimeout: TimeSpan.FromMilliseconds(300))));
        Assert.Equal(ExpertStepFailure.Fenced, e.Failure);
        Assert.Equal(members[1].Silo, e.Holder);
        Assert.Contains(map.Stamp.ToString(), e.Message, StringComparison.Ordinal);
    }
}
