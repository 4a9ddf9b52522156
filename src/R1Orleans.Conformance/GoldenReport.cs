namespace R1Orleans.Conformance;

/// <summary>The tolerances of BRIEF §2: a correct float32 engine meets them on every case.</summary>
public static class GoldenTolerance
{
    /// <summary>max|a − b| / max|b| over a prompt's logits.</summary>
    public const double Logits = 1e-4;

    /// <summary>Absolute error of a combine weight.</summary>
    public const double RoutingWeight = 1e-4;

    public const double MtpLogits = 1e-4;
}

/// <summary>One prompt's comparison against the reference.</summary>
public sealed record GoldenPromptResult(
    int Prompt,
    int Tokens,
    double LogitRelError,
    int RoutedDecisions,
    int RoutingMismatches,
    double RoutingWeightError,
    int GreedyTokens,
    int GreedyMismatches,
    double? MtpRelError)
{
    public bool Passed =>
        LogitRelError <= GoldenTolerance.Logits
        && RoutingMismatches == 0
        && RoutingWeightError <= GoldenTolerance.RoutingWeight
        && GreedyMismatches == 0
        && (MtpRelError is null || MtpRelError <= GoldenTolerance.MtpLogits);
}

public sealed record GoldenReport(string Case, IReadOnlyList<GoldenPromptResult> Prompts, TimeSpan Elapsed)
{
    /// <summary>Accepted / drafted MTP tokens when the greedy check ran with speculative decoding.</summary>
    public double? MtpAcceptanceRate { get; init; }

    public bool Passed => Prompts.Count > 0 && Prompts.All(p => p.Passed);

    /// <summary>The raw outputs the checks were made on, to compare two deployments bit for bit.</summary>
    public GoldenTrace? Trace { get; init; }
}

/// <summary>
/// Everything a golden check computed: the prefill logits of every position, the routing of every MoE layer in the
/// prefill, the MTP logits and the greedy tokens.
/// </summary>
public sealed record GoldenTrace(float[] PrefillLogits, IReadOnlyDictionary<int, R1Orleans.Model.ExpertRouting> Routing, float[]? MtpLogits, IReadOnlyList<int[]> Greedy);
