using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;
using ClusterMember = R1Orleans.Placement.ClusterMember;

namespace R1Orleans.Grains.Balancing;

/// <summary>
/// The load balancer's decision, a plain class under <see cref="LoadBalancerGrain"/>: whether to plan now (a committed
/// map, nothing pending, some load measured) and with which hysteresis (none when forced), and the plan itself, which
/// keeps <c>expertReplicas</c> copies of every expert (--expert-replicas) whatever its load.
/// </summary>
public sealed class LoadBalancer(ExpertLayout layout, int redundantExperts, int expertReplicas = 1)
{
    /// <summary>A plan to propose, or why there is none (<see cref="Reason"/>), with the figures to report.</summary>
    public sealed record Decision(EplbPlan? Plan, string? Reason, double CurrentImbalance, double PlannedImbalance, int LayersChanged, string Policy, int SlotsPerSilo, double Tokens)
    {
        public RebalanceReport Report(string outcome, bool proposed, long? version) =>
            new(proposed, outcome, version, CurrentImbalance, PlannedImbalance, LayersChanged, Policy, SlotsPerSilo, Tokens);
    }

    /// <summary>
    /// How far a planned replica weight may differ from the committed one before the weights alone are worth a new
    /// version (forced: any real difference; on the period: a larger one, so that noise does not renumber placements).
    /// </summary>
    public const double WeightTolerance = 0.05;

    /// <summary>
    /// <paramref name="committedWeights"/>: the replica weights published with the committed map (null: none, so ranks
    /// route an expert's tokens to its first or local copy). When the best map is the committed one but its replicas are
    /// routed by other weights than the plan's, the plan is the same map with the new weights (a version that moves no
    /// expert): without it, a cluster started with <c>--expert-replicas</c> never spreads a hot expert's tokens.
    /// </summary>
    public Decision Decide(PlacementMap? committed, bool pending, IReadOnlyList<ClusterMember> members, ExpertLoadEstimate estimate, bool force, double[]? committedWeights = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(estimate);
        if (committed is null)
        {
            return new Decision(null, "no placement is committed yet", double.NaN, double.NaN, 0, "", 0, estimate.Total);
        }

        if (members.Count < expertReplicas)
        {
            return new Decision(null, $"--expert-replicas {expertReplicas} needs at least {expertReplicas} silos (copies of an expert live on distinct silos); the cluster has {members.Count}", double.NaN, double.NaN, 0, "", 0, estimate.Total);
        }

        if (pending)
        {
            return new Decision(null, "a placement is still being loaded", double.NaN, double.NaN, 0, "", 0, estimate.Total);
        }

        if (estimate.Total <= 0)
        {
            return new Decision(null, "no expert load measured yet (no windows from the silos)", double.NaN, double.NaN, 0, "", 0, 0);
        }

        // Every expert keeps its --expert-replicas copies (the failover spares); the redundant slots come on top.
        var planner = new EplbPlanner(layout, redundantExperts, EplbPolicy.Hierarchical, force ? 0 : EplbPlanner.DefaultMinImprovement, expertReplicas);
        EplbPlan plan = planner.Plan(members, estimate, committed, committed.Epoch + 1);
        if (plan.Changed)
        {
            return new Decision(plan, null, plan.CurrentImbalance, plan.PlannedImbalance, plan.LayersChanged, plan.Policy.ToString(), plan.SlotsPerSilo, estimate.Total);
        }

        return WeightsDiffer(committed, committedWeights, plan.Weights.ToArray(), force ? 1e-6 : WeightTolerance)
            ? new Decision(plan, null, plan.CurrentImbalance, plan.PlannedImbalance, 0, plan.Policy.ToString(), plan.SlotsPerSilo, estimate.Total)
            : new Decision(null, "the committed placement is within the hysteresis of the best plan: nothing to change", plan.CurrentImbalance, plan.PlannedImbalance, 0, plan.Policy.ToString(), plan.SlotsPerSilo, estimate.Total);
    }

    /// <summary>Whether routing by <paramref name="planned"/> differs from the committed routing (only experts with copies count).</summary>
    private static bool WeightsDiffer(PlacementMap map, double[]? committed, double[] planned, double tolerance)
    {
        bool replicated = map.Layout.MoeLayers.Any(l => Enumerable.Range(0, map.Layout.Experts).Any(e => map.Holders(l, e).Count > 1));
        if (!replicated)
        {
            return false;
        }

        if (committed is null || committed.Length != planned.Length)
        {
            return true;
        }

        for (int i = 0; i < planned.Length; i++)
        {
            if (Math.Abs(planned[i] - committed[i]) > tolerance)
            {
                return true;
            }
        }

        return false;
    }
}
