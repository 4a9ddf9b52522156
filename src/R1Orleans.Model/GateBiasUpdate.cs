namespace R1Orleans.Model;

/// <summary>
/// What one <see cref="GateBiasBalancer.Update"/> gives: the next bias, and per MoE layer the window it was computed from
/// (the expert imbalance max/mean of the window's routed tokens, NaN for a layer that routed none; the tokens routed)
/// and the drift of the new bias from the checkpoint's (max over experts of |b − b₀|).
/// </summary>
public sealed record GateBiasUpdate(
    GateBias Bias,
    IReadOnlyDictionary<int, double> ImbalanceBefore,
    IReadOnlyDictionary<int, long> WindowTokens,
    IReadOnlyDictionary<int, double> Drift);
