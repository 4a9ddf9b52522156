using R1Orleans.Model;

namespace R1Orleans.Grains.Balancing;

/// <summary>
/// Bias mode on a cluster (silo <c>--online-bias</c> with <c>--clustering redis</c>): the load balancer moves each MoE
/// layer's gate bias by <see cref="Gamma"/> against the cluster's expert load every <see cref="Interval"/> (when tokens
/// were routed), within <see cref="MaxDrift"/> of the checkpoint's, and pushes it to every silo's rank.
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.ClusterGateBiasOptions")]
public sealed record ClusterGateBiasOptions(
    [property: Id(0)] double Gamma,
    [property: Id(1)] double MaxDrift,
    [property: Id(2)] TimeSpan Interval)
{
    /// <summary>The default period: one load window (every silo publishes one every 2 s).</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(2);

    /// <summary>The plain balancer these settings make (checks γ and the drift).</summary>
    public GateBiasBalancer Balancer() => new(Gamma, MaxDrift);
}
