using R1Orleans.Placement.Communicators;

namespace R1Orleans.Placement.Tests;

public sealed class NcclRendezvousTests
{
    private static readonly SiloId s_a = new("S10.0.0.1:11111:1"), s_b = new("S10.0.0.2:11111:1"), s_c = new("S10.0.0.3:11111:1");

    private static CommunicatorGeneration Generation(long version, long epoch, params SiloId[] ranks) => new(new PlacementStamp(version, epoch), ranks);

    private static byte[] Id(int seed)
    {
        byte[] id = new byte[NcclRendezvous.UniqueIdBytes];
        new Random(seed).NextBytes(id);
        return id;
    }

    [Fact]
    public void Every_rank_gets_the_id_rank_0_posted_and_is_told_to_wait_before()
    {
        var rendezvous = new NcclRendezvous();
        CommunicatorGeneration g = Generation(3, 5, s_a, s_b, s_c);

        RendezvousReply early = rendezvous.Lookup(g, s_b);
        Assert.Equal(RendezvousStatus.Pending, early.Status);
        Assert.Null(early.UniqueId);

        Assert.Equal(RendezvousStatus.Ready, rendezvous.Post(g, s_a, Id(1)).Status);
        foreach (SiloId rank in new[] { s_a, s_b, s_c })
        {
            RendezvousReply reply = rendezvous.Lookup(g, rank);
            Assert.Equal(RendezvousStatus.Ready, reply.Status);
            Assert.Equal(Id(1), reply.UniqueId);
        }
    }

    [Fact]
    public void A_second_different_id_for_the_same_generation_is_refused_and_the_first_kept()
    {
        var rendezvous = new NcclRendezvous();
        CommunicatorGeneration g = Generation(3, 5, s_a, s_b);
        rendezvous.Post(g, s_a, Id(1));

        RendezvousReply second = rendezvous.Post(g, s_a, Id(2));

        Assert.Equal(RendezvousStatus.Conflict, second.Status);
        Assert.Contains("already has a unique id", second.Reason, StringComparison.Ordinal);
        Assert.Equal(Id(1), rendezvous.Lookup(g, s_b).UniqueId);
    }

    [Fact]
    public void The_same_id_posted_again_is_accepted()
    {
        var rendezvous = new NcclRendezvous();
        CommunicatorGeneration g = Generation(3, 5, s_a, s_b);
        rendezvous.Post(g, s_a, Id(1));

        Assert.Equal(RendezvousStatus.Ready, rendezvous.Post(Generation(3, 5, s_a, s_b), s_a, Id(1)).Status);
    }

    [Fact]
    public void An_id_for_an_older_generation_is_refused_once_a_newer_one_is_held()
    {
        var rendezvous = new NcclRendezvous();
        rendezvous.Post(Generation(4, 6, s_a, s_b), s_a, Id(1));

        RendezvousReply older = rendezvous.Post(Generation(3, 5, s_a, s_b, s_c), s_a, Id(2));
        Assert.Equal(RendezvousStatus.Stale, older.Status);
        Assert.Contains("older than v4e6x2", older.Reason, StringComparison.Ordinal);
        Assert.Equal(RendezvousStatus.Stale, rendezvous.Lookup(Generation(3, 5, s_a, s_b, s_c), s_c).Status);
        Assert.Equal(new PlacementStamp(4, 6), rendezvous.Held!.Stamp);
    }

    [Fact]
    public void A_newer_generation_replaces_the_held_one_and_the_old_id_is_no_longer_handed_out()
    {
        var rendezvous = new NcclRendezvous();
        CommunicatorGeneration old = Generation(3, 5, s_a, s_b, s_c), next = Generation(4, 6, s_b, s_c);
        rendezvous.Post(old, s_a, Id(1));

        // s_a left: the next placement's rank 0 is s_b.
        Assert.Equal(RendezvousStatus.Pending, rendezvous.Lookup(next, s_c).Status);
        Assert.Equal(RendezvousStatus.Ready, rendezvous.Post(next, s_b, Id(2)).Status);

        Assert.Equal(Id(2), rendezvous.Lookup(next, s_c).UniqueId);
        Assert.Equal(RendezvousStatus.Stale, rendezvous.Lookup(old, s_c).Status);
    }

    [Fact]
    public void Generations_are_ordered_by_epoch_before_version()
    {
        Assert.True(Generation(2, 9, s_a).IsNewerThan(Generation(5, 8, s_a)));
        Assert.True(Generation(6, 8, s_a).IsNewerThan(Generation(5, 8, s_a)));
        Assert.False(Generation(5, 8, s_a).IsNewerThan(Generation(5, 8, s_a)));
    }

    [Fact]
    public void Only_rank_0_posts_and_only_ranks_look_up()
    {
        var rendezvous = new NcclRendezvous();
        CommunicatorGeneration g = Generation(3, 5, s_a, s_b);

        RendezvousReply post = rendezvous.Post(g, s_b, Id(1));
        Assert.Equal(RendezvousStatus.NotAllowed, post.Status);
        Assert.Contains("is not rank 0", post.Reason, StringComparison.Ordinal);
        Assert.Null(rendezvous.Held);

        rendezvous.Post(g, s_a, Id(1));
        RendezvousReply lookup = rendezvous.Lookup(g, s_c);
        Assert.Equal(RendezvousStatus.NotAllowed, lookup.Status);
        Assert.Null(lookup.UniqueId);
    }

    [Fact]
    public void The_same_stamp_over_other_ranks_is_a_conflict()
    {
        var rendezvous = new NcclRendezvous();
        rendezvous.Post(Generation(3, 5, s_a, s_b), s_a, Id(1));

        Assert.Equal(RendezvousStatus.Conflict, rendezvous.Lookup(Generation(3, 5, s_a, s_c), s_c).Status);
        Assert.Equal(RendezvousStatus.Conflict, rendezvous.Post(Generation(3, 5, s_a, s_c), s_a, Id(1)).Status);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(127)]
    [InlineData(129)]
    public void An_id_of_the_wrong_length_is_refused(int length)
    {
        var rendezvous = new NcclRendezvous();
        Assert.Throws<ArgumentException>(() => rendezvous.Post(Generation(1, 1, s_a), s_a, new byte[length]));
        Assert.Null(rendezvous.Held);
    }

    [Fact]
    public void A_handed_out_id_is_a_copy()
    {
        var rendezvous = new NcclRendezvous();
        CommunicatorGeneration g = Generation(1, 1, s_a, s_b);
        rendezvous.Post(g, s_a, Id(1));
        rendezvous.Lookup(g, s_b).UniqueId![0] ^= 0xFF;

        Assert.Equal(Id(1), rendezvous.Lookup(g, s_b).UniqueId);
    }

    [Fact]
    public void A_placement_maps_generation_lists_its_members_in_map_order_and_changes_with_every_new_map()
    {
        ClusterMember[] members = TestCluster.Members(2, 2);
        ExpertLayout layout = TestCluster.Layout(16, 4, 2);
        var planner = new PlacementPlanner(layout);
        PlacementMap first = planner.Plan(members);
        PlacementMap second = planner.Plan(members[..3], first);

        CommunicatorGeneration a = CommunicatorGeneration.Of(first), b = CommunicatorGeneration.Of(second);

        Assert.Equal(first.Members.Select(m => m.Silo), a.Ranks);
        Assert.Equal(first.Members[0].Silo, a.RankZero);
        Assert.Equal(3, b.Ranks.Count);
        Assert.True(b.IsNewerThan(a));
        Assert.NotEqual(a, b);
        Assert.Equal(a, CommunicatorGeneration.Of(first));
        Assert.Throws<ArgumentException>(() => Generation(1, 1, s_a, s_a));
    }
}
