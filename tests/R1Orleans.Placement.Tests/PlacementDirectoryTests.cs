using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests;

public sealed class PlacementDirectoryTests
{
    private static PlacementDirectory Directory(int replicas = 1) => new(new PlacementPlanner(Layout(16, 4, 2, layers: 2), replicas));

    private static void AckAll(PlacementDirectory d)
    {
        PlacementMap pending = d.Pending!;
        foreach (ClusterMember m in pending.Members)
        {
            d.Acknowledge(m.Silo, pending.Stamp);
        }
    }

    [Fact]
    public void A_pending_map_is_committed_once_every_member_of_it_acknowledged()
    {
        PlacementDirectory d = Directory();
        ClusterMember[] members = Members(2, 1);
        Assert.Equal(JoinOutcome.Joined, d.Join(members[0], "h"));
        Assert.Equal(JoinOutcome.Joined, d.Join(members[1], "h"));
        PlacementMap pending = d.Pending!;
        Assert.Equal(2, pending.MemberCount);
        Assert.False(d.Acknowledge(members[0].Silo, pending.Stamp));
        Assert.False(d.Acknowledge(members[1].Silo, new PlacementStamp(pending.Version, pending.Epoch + 1)));
        Assert.Null(d.Committed);
        Assert.True(d.Acknowledge(members[1].Silo, pending.Stamp));
        Assert.Same(pending, d.Committed);
        Assert.Null(d.Pending);
    }

    [Fact]
    public void A_member_with_another_model_is_refused_and_a_dead_member_leaving_plans_a_map_over_the_survivors()
    {
        PlacementDirectory d = Directory();
        ClusterMember[] members = Members(3, 1);
        foreach (ClusterMember m in members)
        {
            d.Join(m, "h");
        }

        AckAll(d);
        PlacementMap before = d.Committed!;
        Assert.Equal(JoinOutcome.ModelMismatch, d.Join(new ClusterMember("other", "n9"), "different"));
        Assert.True(d.Leave(members[2].Silo));
        Assert.False(d.Leave(members[2].Silo));
        PlacementMap next = d.Pending!;
        Assert.True(next.Epoch > before.Epoch);
        Assert.Equal(-1, next.IndexOf(members[2].Silo));
        Assert.Null(PlacementCoverage.FirstUncovered(next, s => s != members[2].Silo));
    }

    [Fact]
    public void A_directory_that_lost_its_state_continues_above_the_epoch_its_members_serve()
    {
        PlacementDirectory first = Directory();
        ClusterMember[] members = Members(2, 1);
        for (int round = 0; round < 3; round++)
        {
            first.Join(members[0], "h");
            first.Join(members[1], "h");
            AckAll(first);
            first.Leave(members[1].Silo);
            AckAll(first);
        }

        long served = first.Committed!.Epoch;

        // The grain's silo died: a new activation, empty, to which the members join again with what they serve.
        PlacementDirectory second = Directory();
        second.Join(members[0], "h", servedEpoch: served);
        second.Join(members[1], "h", servedEpoch: served);
        Assert.True(second.Pending!.Epoch > served, $"epoch {second.Pending.Epoch} is not above the served {served}");

        // A member already joined that serves an epoch at or above the directory's newest map makes it plan again, above.
        long pending = second.Pending.Epoch;
        second.Join(members[0], "h", servedEpoch: pending + 5);
        Assert.True(second.Pending.Epoch > pending + 5);
    }
}
