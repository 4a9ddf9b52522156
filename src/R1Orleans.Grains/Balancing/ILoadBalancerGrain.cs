namespace R1Orleans.Grains.Balancing;

/// <summary>
/// The cluster's load balancer (one activation, key <see cref="LoadStreams.Key"/>): takes every silo's load windows
/// from the <see cref="LoadStreams"/> stream, estimates each expert's load, and on request or on its period plans a
/// placement with hot experts replicated and experts repacked (EPLB), which it proposes to the placement directory
/// (the hot swap) together with the replica routing weights.
/// </summary>
[Alias("R1Orleans.ILoadBalancerGrain")]
public interface ILoadBalancerGrain : IGrainWithStringKey
{
    /// <summary>Plans now; proposes the plan when it changes the placement (always when <paramref name="force"/>, else only past the hysteresis).</summary>
    [Alias("Rebalance")]
    Task<RebalanceReport> Rebalance(bool force);

    /// <summary>What the balancer knows: windows taken and missed, the load estimate, the last plan.</summary>
    [Alias("Report")]
    Task<LoadBalancerReport> Report();
}

/// <summary>
/// The outcome of one plan: whether a new placement was proposed (its version), why not otherwise, and the predicted
/// load imbalance (Σ max / Σ mean of silo load over the MoE layers) of the committed map and of the plan.
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.RebalanceReport")]
public sealed record RebalanceReport(
    [property: Id(0)] bool Proposed,
    [property: Id(1)] string Outcome,
    [property: Id(2)] long? Version,
    [property: Id(3)] double CurrentImbalance,
    [property: Id(4)] double PlannedImbalance,
    [property: Id(5)] int LayersChanged,
    [property: Id(6)] string Policy,
    [property: Id(7)] int SlotsPerSilo,
    [property: Id(8)] double TokensEstimated);

/// <summary>The balancer's state: windows per silo, the estimate's total rate, the last plan, and bias mode's state when it is on.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.LoadBalancerReport")]
public sealed record LoadBalancerReport(
    [property: Id(0)] long WindowsTaken,
    [property: Id(1)] long WindowsMissed,
    [property: Id(2)] long WindowsIgnored,
    [property: Id(3)] string[] Silos,
    [property: Id(4)] double TokensPerSecond,
    [property: Id(5)] int RedundantExperts,
    [property: Id(6)] RebalanceReport? LastPlan,
    [property: Id(7)] GateBiasReport? Bias = null);
