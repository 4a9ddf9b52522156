namespace R1Orleans.Placement.Balancing;

/// <summary>
/// What <see cref="EplbPlanner.Plan"/> decided. When <see cref="Changed"/> is false, <see cref="Map"/> is the current map
/// itself (no expert moves) and only <see cref="Weights"/> may be new; the load balancer then proposes the same holders
/// with these weights as a version that loads nothing, when they differ from the committed ones (<c>LoadBalancer.Decide</c>).
/// </summary>
/// <param name="Map">The placement to serve: a new version when <see cref="Changed"/>, else the current one.</param>
/// <param name="Weights">The replica routing weights for <see cref="Map"/>.</param>
/// <param name="Changed">Whether <see cref="Map"/> is a new version.</param>
/// <param name="LayersChanged">MoE layers whose holders differ from the current map's.</param>
/// <param name="Policy">The policy used (Global when Hierarchical could not apply).</param>
/// <param name="SlotsPerSilo">Expert slots each silo has per layer (experts + redundant ones, over the silos).</param>
/// <param name="CurrentImbalance">The current map's predicted Σmax/Σmean silo load with balanced weights; NaN without a current map.</param>
/// <param name="PlannedImbalance">The same figure for <see cref="Map"/> and <see cref="Weights"/>.</param>
public sealed record EplbPlan(
    PlacementMap Map,
    ReplicaWeights Weights,
    bool Changed,
    int LayersChanged,
    EplbPolicy Policy,
    int SlotsPerSilo,
    double CurrentImbalance,
    double PlannedImbalance);
