using R1Orleans.Model;
using R1Orleans.Placement.Balancing;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests.Balancing;

public sealed class WeightedReplicaPreferenceTests
{
    // 8 experts in 2 groups on 2 nodes of 2 silos; expert 0 on both silos of node 0, expert 4 on both of node 1.
    private static readonly ExpertLayout s_layout = Layout(8, 2, 1);

    private static PlacementMap Map() => PlacementMap.Create(1, 1, Members(2, 2), s_layout, [
    [
        [Member(0, 0).Silo, Member(0, 1).Silo], [Member(0, 0).Silo], [Member(0, 1).Silo], [Member(0, 0).Silo],
        [Member(1, 0).Silo, Member(1, 1).Silo], [Member(1, 0).Silo], [Member(1, 1).Silo], [Member(1, 1).Silo],
    ],
    ]);

    private static ReplicaWeights Weights(PlacementMap map, double first0, double first4)
    {
        double[] w = ReplicaWeights.Uniform(map).ToArray();
        (w[0], w[1]) = (first0, 1 - first0);
        (w[5], w[6]) = (first4, 1 - first4);
        return ReplicaWeights.FromArray(map, w);
    }

    [Fact]
    public void Draws_split_tokens_by_the_planned_weights_over_many_tokens_and_steps()
    {
        PlacementMap map = Map();
        var pref = new WeightedReplicaPreference(Weights(map, 0.8, 0.25));
        var counts = new int[2, 2];
        const int steps = 200, tokens = 100;
        for (int step = 0; step < steps; step++)
        {
            pref.Step = step;
            for (int t = 0; t < tokens; t++)
            {
                counts[0, pref.Choose(1, t, 0)]++;
                counts[1, pref.Choose(1, t, 4)]++;
            }
        }

        // 20,000 draws each: the share is within 1% of the weight (a binomial's σ is 0.3%).
        Assert.InRange(counts[0, 0] / 20_000.0, 0.79, 0.81);
        Assert.InRange(counts[1, 0] / 20_000.0, 0.24, 0.26);
    }

    [Fact]
    public void A_draw_is_a_function_of_step_layer_token_and_expert_and_one_token_spreads_over_steps()
    {
        PlacementMap map = Map();
        var a = new WeightedReplicaPreference(Weights(map, 0.5, 0.5));
        var b = new WeightedReplicaPreference(Weights(map, 0.5, 0.5));
        var seen = new HashSet<int>();
        for (int step = 0; step < 64; step++)
        {
            a.Step = b.Step = step;
            Assert.Equal(a.Choose(1, 0, 0), b.Choose(1, 0, 0));
            seen.Add(a.Choose(1, 0, 0));
        }

        Assert.Equal([0, 1], seen.Order());
    }

    [Fact]
    public void A_zero_weight_replica_gets_no_token_and_the_drawn_replica_costs_least()
    {
        PlacementMap map = Map();
        var pref = new WeightedReplicaPreference(Weights(map, 0, 1));
        for (int t = 0; t < 500; t++)
        {
            Assert.Equal(1, pref.Choose(1, t, 0));
            Assert.Equal(0, pref.Cost(1, t, 0, 1));
            Assert.Equal(1, pref.Cost(1, t, 0, 0));
            Assert.Equal(0, pref.Cost(1, t, 1, 0));
        }
    }

    [Fact]
    public void The_router_follows_the_weights_even_on_a_rank_that_holds_a_replica_and_stays_within_the_node_limit()
    {
        PlacementMap map = Map();
        ClusterMember rank = Member(0, 0);
        var pref = new WeightedReplicaPreference(Weights(map, 0.3, 0.6));
        var router = new ExpertRouter(map, rank, maxNodesPerToken: 1, pref);

        // Every token picks 2 experts of one group (topk_group 1 over 2 groups), so one node serves it.
        var rng = new Random(11);
        var onFirst = new int[8];
        var total = new int[8];
        for (int step = 0; step < 100; step++)
        {
            pref.Step = step;
            ExpertRouting routing = GroupLimitedRouting(rng, s_layout, tokens: 50, k: 2);
            DispatchPlan plan = router.Route(1, routing);
            AssertPlanMatchesGate(plan, routing);
            Assert.Equal(0, plan.Violations);
            for (int t = 0; t < routing.Tokens; t++)
            {
                for (int k = 0; k < 2; k++)
                {
                    int e = routing.TopkIds[(t * 2) + k];
                    total[e]++;
                    if (plan.HolderOf(t, k) == map.HolderIndexes(1, e)[0])
                    {
                        onFirst[e]++;
                    }
                }
            }
        }

        // The rank's own silo holds replica 0 of expert 0, yet it takes only its planned 30%.
        Assert.InRange(onFirst[0] / (double)total[0], 0.27, 0.33);
        Assert.InRange(onFirst[4] / (double)total[4], 0.57, 0.63);
    }

    [Fact]
    public void A_preference_that_keeps_local_replicas_sends_the_ranks_tokens_to_its_own_silo()
    {
        PlacementMap map = Map();
        var router = new ExpertRouter(map, Member(0, 0), maxNodesPerToken: 1, new WeightedReplicaPreference(Weights(map, 0.3, 0.6), preferLocalReplicas: true));
        var routing = new ExpertRouting(100, 1, new int[100], new float[100]);
        DispatchPlan plan = router.Route(1, routing);
        Assert.All(Enumerable.Range(0, 100), t => Assert.Equal(map.IndexOf(Member(0, 0).Silo), plan.HolderOf(t, 0)));
    }

    [Fact]
    public void Planned_weights_route_an_eplb_map_within_topk_group_nodes()
    {
        ExpertLayout layout = Layout(64, 8, 4);
        var rng = new Random(5);
        double[] load = EplbTestData.Zipf(64, 1.2, seed: 3);
        EplbPlan plan = new EplbPlanner(layout, redundantExperts: 8).Plan(Members(4, 2), EplbTestData.Loads(layout, load));
        var pref = new WeightedReplicaPreference(plan.Weights);
        var router = new ExpertRouter(plan.Map, Member(2, 1), maxNodesPerToken: 4, pref);
        for (int step = 0; step < 20; step++)
        {
            pref.Step = step;
            ExpertRouting routing = GroupLimitedRouting(rng, layout, tokens: 40, k: 8);
            DispatchPlan dispatch = router.Route(1, routing);
            AssertPlanMatchesGate(dispatch, routing);
            Assert.Equal(0, dispatch.Violations);
        }
    }
}
