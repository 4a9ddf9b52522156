using R1Orleans.Model;

namespace R1Orleans.Engine.Balancing;

/// <summary>
/// Settings of online gate-bias balancing (silo <c>--online-bias</c>, off by default: it changes the model's outputs).
/// </summary>
public sealed record OnlineGateBiasOptions
{
    /// <summary>
    /// The default maximum drift from the checkpoint's bias. r1orleans-tiny's trained biases span about ±0.05 and the
    /// sigmoid scores of a token's 4th and 5th choices are often closer than that; 0.02 lets 20 windows at γ = 0.001
    /// shift the hottest and coldest experts' choices while keeping every bias within a small fraction of the
    /// range training gave it (docs/BENCHMARKS.md measures the cost on the outputs).
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
