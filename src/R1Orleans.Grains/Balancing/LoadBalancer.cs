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

    public Decision Decide(PlacementMap? committed, bool pending, IReadOnlyList<ClusterMember> members, ExpertLoadEstimate estimate, bool force)
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
        return plan.Changed
            ? new Decision(plan, null, plan.CurrentImbalance, plan.PlannedImbalance, plan.LayersChanged, plan.Policy.ToString(), plan.SlotsPerSilo, estimate.Total)
            : new Decision(null, "the committed placement is within the hysteresis of the best plan: nothing to change", plan.CurrentImbalance, plan.PlannedImbalance, 0, plan.Policy.ToString(), plan.SlotsPerSilo, estimate.Total);
    }
}
