using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests;

/// <summary>
/// The hot swap's control-plane half: a map planned by the load balancer becomes the directory's next pending
/// placement (numbered after the newest), is committed like any other once every member loaded it, and is refused
/// with a reason when it cannot be taken now.
/// </summary>
public sealed class PlacementProposalTests
{
    private static readonly ExpertLayout s_layout = Layout(16, 4, 2, layers: 2);

    private static PlacementDirectory Committed(ClusterMember[] members)
    {
        var d = new PlacementDirectory(new PlacementPlanner(s_layout));
        foreach (ClusterMember m in members)
        {
            d.Join(m, "h");
        }

        PlacementMap pending = d.Pending!;
        foreach (ClusterMember m in pending.Members)
        {
            d.Acknowledge(m.Silo, pending.Stamp);
        }

        Assert.NotNull(d.Committed);
        return d;
    }

    /// <summary>The committed assignment with expert 0 of the first MoE layer also held by a second silo (a hot expert's replica).</summary>
    private static PlacementMap WithReplicaOfExpertZero(PlacementMap map)
    {
        var holders = new List<IReadOnlyList<IReadOnlyList<SiloId>>>();
        for (int li = 0; li < map.Layout.MoeLayers.Count; li++)
        {
            int layer = map.Layout.MoeLayers[li];
            var experts = new List<IReadOnlyList<SiloId>>();
            for (int e = 0; e < map.Layout.Experts; e++)
            {
                List<SiloId> h = [.. map.Holders(layer, e)];
                if (li == 0 && e == 0)
                {
                    h.Add(map.Members.First(m => !h.Contains(m.Silo)).Silo);
                }

                experts.Add(h);
            }

            holders.Add(experts);
        }

        return PlacementMap.Create(map.Version + 1, map.Epoch + 1, map.Members, map.Layout, holders);
    }

    [Fact]
    public void A_proposed_map_becomes_pending_after_the_committed_one_and_commits_once_every_member_loaded_it()
    {
        ClusterMember[] members = Members(2, 2);
        PlacementDirectory d = Committed(members);
        PlacementMap before = d.Committed!;
        PlacementMap plan = WithReplicaOfExpertZero(before).Restamped(99, 1);

        Assert.Null(d.Propose(plan));

        PlacementMap pending = d.Pending!;
        Assert.Equal(before.Version + 1, pending.Version);
        Assert.True(pending.Epoch > before.Epoch, $"epoch {pending.Epoch} after {before.Epoch}");
        Assert.Equal(2, pending.Holders(s_layout.MoeLayers[0], 0).Count);
        Assert.Same(before, d.Committed);
        foreach (ClusterMember m in members)
        {
            d.Acknowledge(m.Silo, pending.Stamp);
        }

        Assert.Same(pending, d.Committed);
        Assert.Null(d.Pending);
    }

    [Fact]
    public void A_proposal_is_refused_while_a_map_is_pending_before_any_commit_or_over_other_members()
    {
        var fresh = new PlacementDirectory(new PlacementPlanner(s_layout));
        ClusterMember[] members = Members(2, 2);
        Assert.Contains("no placement is committed", fresh.Propose(new PlacementPlanner(s_layout).Plan(members)), StringComparison.Ordinal);

        PlacementDirectory d = Committed(members);
        PlacementMap plan = WithReplicaOfExpertZero(d.Committed!);
        PlacementMap fewer = new PlacementPlanner(s_layout).Plan(members.Take(3));
        Assert.Contains("the members are", d.Propose(fewer), StringComparison.Ordinal);
        Assert.Null(d.Pending);

        Assert.Null(d.Propose(plan));
        Assert.Contains("still being loaded", d.Propose(plan), StringComparison.Ordinal);
    }

    [Fact]
    public void Proposing_the_committed_assignment_changes_nothing()
    {
        PlacementDirectory d = Committed(Members(2, 1));
        PlacementMap committed = d.Committed!;
        Assert.Contains("nothing to change", d.Propose(committed.Restamped(committed.Version + 5, committed.Epoch + 5)), StringComparison.Ordinal);
        Assert.Null(d.Pending);
        Assert.Same(committed, d.Committed);
    }

    [Fact]
    public void The_committed_assignment_with_new_replica_weights_becomes_a_version_that_moves_no_expert()
    {
        ClusterMember[] members = Members(2, 1);
        PlacementDirectory d = Committed(members);
        PlacementMap committed = d.Committed!;

        Assert.Null(d.Propose(committed.Restamped(committed.Version + 5, committed.Epoch + 5), newWeights: true));

        PlacementMap pending = d.Pending!;
        Assert.Equal(committed.Version + 1, pending.Version);
        Assert.True(pending.SameAssignment(committed));
        Assert.Equal(0, PlacementDiff.Between(committed, pending).TotalLoads);
    }
}
