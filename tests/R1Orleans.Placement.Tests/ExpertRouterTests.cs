using R1Orleans.Model;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests;

public sealed class ExpertRouterTests
{
    private static ExpertRouting Routing(int k, params int[] ids) => new(ids.Length / k, k, ids, new float[ids.Length]);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    public void Group_limited_gate_choices_never_span_more_than_four_nodes(int replicas, int silosPerNode)
    {
        // DeepSeek-V3's gate shape: 256 experts in 8 groups, topk_group 4, top-8, on 8 nodes.
        ExpertLayout layout = Layout(256, 8, 4, layers: 2);
        ClusterMember[] members = Members(8, silosPerNode);
        PlacementMap map = new PlacementPlanner(layout, replicas).Plan(members);
        var rng = new Random(20261204 + (replicas * 10) + silosPerNode);
        DispatchPlan? plan = null;
        int checkedTokens = 0;
        foreach (ClusterMember self in members)
        {
            var router = new ExpertRouter(map, self);
            ExpertRouting routing = GroupLimitedRouting(rng, layout, tokens: 2000 / members.Length, k: 8);
            plan = router.Route(2, routing, plan);
            AssertPlanMatchesGate(plan, routing);
            Assert.Equal(0, plan.Violations);
            for (int t = 0; t < routing.Tokens; t++)
            {
                Assert.InRange(plan.NodesSpanned(t), 1, 4);
            }

            checkedTokens += routing.Tokens;
        }

        Assert.True(checkedTokens >= 1900);
    }

    [Fact]
    public void A_placement_that_splits_groups_counts_violations_and_still_uses_exactly_the_gates_experts()
    {
        ExpertLayout layout = Layout(256, 8, 4);
        ClusterMember[] members = Members(8, 1);
        PlacementMap broken = new PlacementPlanner(layout, groupAligned: false).Plan(members);
        var router = new ExpertRouter(broken, members[0]);
        ExpertRouting routing = GroupLimitedRouting(new Random(5), layout, tokens: 500, k: 8);
        DispatchPlan plan = router.Route(1, routing);
        AssertPlanMatchesGate(plan, routing);
        int over = Enumerable.Range(0, routing.Tokens).Count(t => plan.NodesSpanned(t) > 4);
        Assert.True(over > 0);
        Assert.Equal(over, plan.Violations);
    }

    [Fact]
    public void The_router_chooses_fewer_nodes_over_the_first_replica()
    {
        // Expert 0 lives on n0 (replica 0) and n1 (replica 1); expert 1 only on n1. With a limit of one node both run on n1.
        ClusterMember a = Member(0, 0), b = Member(1, 0), rank = Member(2, 0);
        PlacementMap map = PlacementMap.Create(1, 1, [a, b, rank], Layout(2, 1, 1), [[[a.Silo, b.Silo], [b.Silo]]]);
        DispatchPlan plan = new ExpertRouter(map, rank, maxNodesPerToken: 1).Route(1, Routing(2, 0, 1));
        Assert.Equal(map.IndexOf(b.Silo), plan.HolderOf(0, 0));
        Assert.Equal(1, plan.NodesSpanned(0));
        Assert.Equal(0, plan.Violations);
        Assert.Equal(1, plan.DestinationCount);
        Assert.Equal(-1, plan.LocalDestination);
    }

    [Fact]
    public void The_router_prefers_a_replica_on_its_own_silo_then_on_its_own_node_then_replica_zero()
    {
        // Experts 0 and 1 have replica 0 on n0 (silo a) and replica 1 on n1 (silos b and c); expert 2 has both replicas on n1.
        ClusterMember a = Member(0, 0), b = Member(1, 0), c = Member(1, 1), outsider = Member(5, 0);
        PlacementMap map = PlacementMap.Create(1, 1, [a, b, c, outsider], Layout(3, 1, 1), [[[a.Silo, b.Silo], [a.Silo, c.Silo], [c.Silo, b.Silo]]]);
        ExpertRouting routing = Routing(1, 0, 1, 2);

        DispatchPlan fromB = new ExpertRouter(map, b).Route(1, routing);
        Assert.Equal(map.IndexOf(b.Silo), fromB.HolderOf(0, 0));
        Assert.Equal(map.IndexOf(c.Silo), fromB.HolderOf(1, 0));
        Assert.True(fromB.IsLocal(fromB.DestinationOf(0, 0)));
        Assert.Equal(b.Silo, fromB.Destination(fromB.LocalDestination));
        Assert.Equal(map.IndexOf(b.Silo), fromB.HolderOf(2, 0));
        AssertPlanMatchesGate(fromB, routing);

        DispatchPlan fromOutsider = new ExpertRouter(map, outsider).Route(1, routing);
        Assert.Equal(map.IndexOf(a.Silo), fromOutsider.HolderOf(0, 0));
        Assert.Equal(map.IndexOf(a.Silo), fromOutsider.HolderOf(1, 0));
        Assert.Equal(map.IndexOf(c.Silo), fromOutsider.HolderOf(2, 0));
        Assert.Equal(-1, fromOutsider.LocalDestination);
    }

    [Fact]
    public void A_replica_preference_moves_rows_between_replicas_without_changing_the_experts()
    {
        ExpertLayout layout = Layout(16, 4, 2);
        ClusterMember[] members = Members(4, 1);
        PlacementMap map = new PlacementPlanner(layout, replicas: 2).Plan(members);
        ExpertRouting routing = Routing(1, 5, 5, 5, 5);
        var outsider = new ClusterMember("S-gateway", "n9");

        DispatchPlan first = new ExpertRouter(map, outsider).Route(1, routing);
        Assert.All(Enumerable.Range(0, 4), t => Assert.Equal(map.HolderIndexes(1, 5)[0], first.HolderOf(t, 0)));

        DispatchPlan spread = new ExpertRouter(map, outsider, preference: new TokenSpreadPreference(2)).Route(1, routing);
        AssertPlanMatchesGate(spread, routing);

        // Replica (token + expert) mod 2 is cheapest: tokens 0 and 2 go to replica 1, tokens 1 and 3 to replica 0.
        int r0 = map.HolderIndexes(1, 5)[0], r1 = map.HolderIndexes(1, 5)[1];
        Assert.Equal([r1, r0, r1, r0], Enumerable.Range(0, 4).Select(t => spread.HolderOf(t, 0)));
        Assert.Equal(2, spread.DestinationCount);
    }

    [Fact]
    public void Rows_are_grouped_per_destination_by_expert_in_token_order()
    {
        // Experts 0, 1 on silo a; 2, 3 on silo b. Token 0 -> [2, 0], token 1 -> [0, 1], token 2 -> [3, 2].
        ClusterMember a = Member(0, 0), b = Member(1, 0);
        PlacementMap map = PlacementMap.Create(3, 7, [a, b], Layout(4, 2, 1), [[[a.Silo], [a.Silo], [b.Silo], [b.Silo]]]);
        DispatchPlan plan = new ExpertRouter(map, a).Route(1, Routing(2, 2, 0, 0, 1, 3, 2));
        Assert.Equal(new PlacementStamp(3, 7), plan.Stamp);
        Assert.Equal(2, plan.DestinationCount);
        Assert.Equal(a.Silo, plan.Destination(0));
        Assert.Equal(0, plan.LocalDestination);
        Assert.Equal([0, 0, 1], plan.RowExperts(0).ToArray());
        Assert.Equal([0, 1, 1], plan.RowTokens(0).ToArray());
        Assert.Equal([1, 0, 1], plan.RowSlots(0).ToArray());
        Assert.Equal(b.Silo, plan.Destination(1));
        Assert.Equal([2, 2, 3], plan.RowExperts(1).ToArray());
        Assert.Equal([0, 2, 2], plan.RowTokens(1).ToArray());
        Assert.Equal([0, 1, 0], plan.RowSlots(1).ToArray());
        Assert.Equal(2, plan.NodesSpanned(0));
        Assert.Equal(1, plan.NodesSpanned(1));
    }

    [Fact]
    public void A_reused_plan_equals_a_fresh_one()
    {
        ExpertLayout layout = Layout(64, 8, 4);
        ClusterMember[] members = Members(4, 2);
        PlacementMap map = new PlacementPlanner(layout, replicas: 2).Plan(members);
        var router = new ExpertRouter(map, members[3]);
        var rng = new Random(3);
        DispatchPlan reused = router.Route(1, GroupLimitedRouting(rng, layout, 40, 6));
        ExpertRouting second = GroupLimitedRouting(rng, layout, 7, 6);
        reused = router.Route(1, second, reused);
        DispatchPlan fresh = new ExpertRouter(map, members[3]).Route(1, second);
        AssertPlanMatchesGate(reused, second);
        Assert.Equal(fresh.DestinationCount, reused.DestinationCount);
        for (int d = 0; d < fresh.DestinationCount; d++)
        {
            Assert.Equal(fresh.Destination(d), reused.Destination(d));
            Assert.Equal(fresh.RowTokens(d).ToArray(), reused.RowTokens(d).ToArray());
            Assert.Equal(fresh.RowSlots(d).ToArray(), reused.RowSlots(d).ToArray());
        }
    }

    [Fact]
    public void Routing_into_a_reused_plan_allocates_nothing()
    {
        ExpertLayout layout = Layout(256, 8, 4);
        ClusterMember[] members = Members(8, 2);
        PlacementMap map = new PlacementPlanner(layout, replicas: 2).Plan(members);
        var router = new ExpertRouter(map, members[5]);
        ExpertRouting routing = GroupLimitedRouting(new Random(11), layout, tokens: 256, k: 8);
        DispatchPlan plan = router.Route(1, routing);
        plan = router.Route(1, routing, plan);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            plan = router.Route(1, routing, plan);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        AssertPlanMatchesGate(plan, routing);
    }

    [Fact]
    public void Routing_refuses_a_layer_without_experts_and_an_expert_outside_the_layer()
    {
        PlacementMap map = new PlacementPlanner(Layout(8, 2, 1)).Plan(Members(2, 1));
        var router = new ExpertRouter(map, Members(2, 1)[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => router.Route(0, Routing(1, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => router.Route(1, Routing(1, 8)));
        Assert.Throws<ArgumentException>(() => router.Route(1, new ExpertRouting(2, 2, [0, 1, 2], new float[3])));
    }
}
