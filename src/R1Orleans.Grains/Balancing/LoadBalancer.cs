using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;
using ClusterMember = R1Orleans.Placement.ClusterMember;

namespace R1Orleans.Grains.Balancing;

/// <summary>
/// The load balancer's decision, a plain class under <see cref="LoadBalancerGrain"/>: whether to plan now (a committed
/// map, nothing pending, some load measured) and with which hysteresis (none when forced), and the plan itself.
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

        if (expertReplicas > 1)
        {
            // EPLB's plans keep one copy of a cold expert; with --expert-replicas the cluster promised every expert a
            // spare holder for failover, which a rebalance must not take away.
            return new Decision(null, $"rebalancing is off with --expert-replicas {expertReplicas}: its plans may leave a cold expert one holder", double.NaN, double.NaN, 0, "", 0, estimate.Total);
        }

        if (pending)
        {
            return new Decision(null, "a placement is still being loaded", double.NaN, double.NaN, 0, "", 0, estimate.Total);
        }

        if (estimate.Total <= 0)
        {
            return new Decision(null, "no expert load measured yet (no windows from the silos)", double.NaN, double.NaN, 0, "", 0, 0);
        }

        var planner = new EplbPlanner(layout, redundantExperts, EplbPolicy.Hierarchical, force ? 0 : EplbPlanner.DefaultMinImprovement);
        EplbPlan plan = planner.Plan(members, estimate, committed, committed.Epoch + 1);
        return plan.Changed
            ? new Decision(plan, null, plan.CurrentImbalance, plan.PlannedImbalance, plan.LayersChanged, plan.Policy.ToString(), plan.SlotsPerSilo, estimate.Total)
            : new Decision(null, "the committed placement is within the hysteresis of the best plan: nothing to change", plan.CurrentImbalance, plan.PlannedImbalance, 0, plan.Policy.ToString(), plan.SlotsPerSilo, estimate.Total);
    }
}
