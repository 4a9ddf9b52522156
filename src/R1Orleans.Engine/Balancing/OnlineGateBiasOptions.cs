using R1Orleans.Model;

namespace R1Orleans.Engine.Balancing;

/// <summary>
/// Settings of online gate-bias balancing (silo <c>--online-bias</c>, off by default: it changes the model's outputs).
/// </summary>
public sealed record OnlineGateBiasOptions
{
    /// <summary>
    /// The default maximum drift, 0.02: r1orleans-tiny's trained biases span about ±0.04–0.06 in its first two MoE layers
    /// (up to 0.2 in the third and 0.25 in the MTP layer), and in training's last thousand steps each layer's largest
    /// |bias| still moved by up to 0.01–0.02 between checkpoints 100 steps apart: 0.02 keeps serving within the wander
    /// the model was trained under. Measured through the API (docs/BENCHMARKS.md): at 0.02, 359 of 360 held-out greedy
    /// answers equal the frozen run's but a skewed load is barely rebalanced; 0.05 and 0.1 rebalance more and change
    /// 5 and 3 of the 360.
    /// </summary>
    public const double DefaultMaxDrift = 0.02;

    /// <summary>The default window: 64 engine steps.</summary>
    public const int DefaultWindowSteps = 64;

    /// <summary>The bias update speed γ per window.</summary>
    public double Gamma { get; init; } = GateBiasBalancer.DefaultGamma;

    /// <summary>The most any expert's bias may move from the checkpoint's.</summary>
    public double MaxDrift { get; init; } = DefaultMaxDrift;

    /// <summary>Engine steps (forward passes) per window: the bias is updated after each window, at a step boundary.</summary>
    public int WindowSteps { get; init; } = DefaultWindowSteps;
}
