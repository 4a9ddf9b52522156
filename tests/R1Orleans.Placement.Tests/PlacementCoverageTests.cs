using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests;

public sealed class PlacementCoverageTests
{
    [Fact]
    public void Every_expert_is_covered_while_every_holder_lives()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas: 1).Plan(Members(2, 2));
        Assert.Null(PlacementCoverage.FirstUncovered(map, _ => true));
        Assert.Null(PlacementCoverage.Describe(map, _ => true));
    }

    [Fact]
    public void Without_replicas_a_dead_holder_uncovers_the_first_expert_it_held()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas: 1).Plan(Members(2, 2));
        SiloId dead = map.Member(1).Silo;
        int layer = map.Layout.MoeLayers[0];
        int first = map.ExpertsHeldBy(dead, layer)[0];
        Assert.Equal((layer, first), PlacementCoverage.FirstUncovered(map, s => s != dead));
        Assert.Contains($"layer {layer} expert {first} has no live holder (held by {dead})", PlacementCoverage.Describe(map, s => s != dead), StringComparison.Ordinal);
    }

    [Fact]
    public void With_two_replicas_any_one_dead_silo_leaves_every_expert_covered()
    {
        PlacementMap map = new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas: 2).Plan(Members(2, 2));
        for (int m = 0; m < map.MemberCount; m++)
        {
            SiloId dead = map.Member(m).Silo;
            Assert.Null(PlacementCoverage.FirstUncovered(map, s => s != dead));
        }

        Assert.NotNull(PlacementCoverage.FirstUncovered(map, _ => false));
    }
}
