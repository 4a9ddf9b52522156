using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests;

public sealed class PlacementMapTests
{
    private static readonly ClusterMember s_a = Member(0, 0), s_b = Member(0, 1), s_c = Member(1, 0);

    private static PlacementMap Small(long version = 1, long epoch = 1, SiloId? holderOfExpert3 = null) =>
        PlacementMap.Create(version, epoch, [s_a, s_b, s_c], Layout(4, 2, 1), [[
            [s_a.Silo, s_c.Silo],
            [s_b.Silo],
            [s_c.Silo],
            [holderOfExpert3 ?? s_c.Silo, s_a.Silo],
        ]]);

    [Fact]
    public void Queries_answer_holders_in_replica_order_experts_per_silo_and_silos_involved()
    {
        PlacementMap map = Small();
        Assert.Equal([s_a.Silo, s_c.Silo], map.Holders(1, 0));
        Assert.Equal([2, 0], map.HolderIndexes(1, 3).ToArray());
        Assert.Equal([0, 3], map.ExpertsHeldBy(s_a.Silo, 1));
        Assert.Equal([1], map.ExpertsHeldBy(s_b.Silo, 1));
        Assert.Equal([0, 2, 3], map.ExpertsHeldBy(s_c.Silo, 1));
        Assert.Empty(map.ExpertsHeldBy(new SiloId("S-not-a-member"), 1));
        Assert.Equal([s_a.Silo, s_b.Silo, s_c.Silo], map.SilosInvolved());
        Assert.Equal(2, map.NodeCount);
        Assert.Equal(map.NodeOf(0), map.NodeOf(1));
        Assert.NotEqual(map.NodeOf(0), map.NodeOf(2));
        Assert.True(map.Holds(s_a.Silo, 1, 3));
        Assert.False(map.Holds(s_b.Silo, 1, 3));
        Assert.False(map.Holds(new SiloId("S-not-a-member"), 1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Holds(s_a.Silo, 2, 0));
        Assert.False(map.HasLayer(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Holders(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Holders(1, 4));
    }

    [Fact]
    public void Content_hash_ignores_the_stamp_and_changes_with_any_holder()
    {
        PlacementMap map = Small();
        Assert.Equal(map.ContentHash, Small(version: 9, epoch: 12).ContentHash);
        Assert.True(map.SameAssignment(Small(version: 9, epoch: 12)));
        Assert.NotEqual(map, Small(version: 9, epoch: 12));
        Assert.Equal(map, Small());

        PlacementMap moved = Small(holderOfExpert3: s_b.Silo);
        Assert.NotEqual(map.ContentHash, moved.ContentHash);
        Assert.False(map.SameAssignment(moved));
    }

    [Fact]
    public void Content_hash_is_stable_across_processes()
    {
        // The first 8 bytes (little-endian) of SHA-256 over the documented encoding, computed independently with Python's
        // hashlib: a change to the encoding must be deliberate (silos compare maps by this hash).
        Assert.Equal(0x0e0d90c459a37256UL, Small().ContentHash);
    }

    [Fact]
    public void Data_round_trip_gives_an_equal_map()
    {
        PlacementMap map = new PlacementPlanner(Layout(64, 8, 4, layers: 3), replicas: 2).Plan(Members(3, 2), null, clusterGeneration: 5);
        PlacementMapData data = map.ToData();
        PlacementMap back = PlacementMap.FromData(data);
        Assert.Equal(map, back);
        Assert.Equal(map.ContentHash, back.ContentHash);
        Assert.Equal(map.Stamp, back.Stamp);
    }

    [Fact]
    public void Create_refuses_an_expert_without_holder_a_repeated_holder_and_a_non_member()
    {
        ExpertLayout layout = Layout(2, 1, 1);
        ClusterMember[] members = [s_a, s_b];
        Assert.Throws<ArgumentException>(() => PlacementMap.Create(1, 1, members, layout, [[[s_a.Silo], []]]));
        var twice = Assert.Throws<ArgumentException>(() => PlacementMap.Create(1, 1, members, layout, [[[s_a.Silo, s_a.Silo], [s_b.Silo]]]));
        Assert.Contains("distinct silos", twice.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => PlacementMap.Create(1, 1, members, layout, [[[s_c.Silo], [s_b.Silo]]]));
        Assert.Throws<ArgumentException>(() => PlacementMap.Create(1, 1, [s_a, s_a], layout, [[[s_a.Silo], [s_a.Silo]]]));
    }

    [Fact]
    public void Identity_types_refuse_empty_names_and_compare_ordinally()
    {
        Assert.Throws<ArgumentException>(() => new SiloId(" "));
        Assert.Throws<ArgumentException>(() => new NodeName(""));
        Assert.True(new SiloId("S10.0.0.1:11111:1").CompareTo(new SiloId("S10.0.0.1:11112:1")) < 0);
        Assert.Equal(new ClusterMember("S1", "n0"), new ClusterMember(new SiloId("S1"), new NodeName("n0")));
    }
}
