namespace R1Orleans.Engine.Balancing;

/// <summary>
/// A snapshot of <see cref="OnlineGateBias"/>: windows closed, bias updates applied, the bias version in use, and per MoE
/// layer the expert imbalance (max/mean routed tokens; NaN for a layer that routed nothing) of the first window (before
/// any update: the checkpoint's bias) and of the latest (after), the tokens of the latest window, and the drift of the
/// bias in use from the checkpoint's (max |b − b₀|).
/// </summary>
public sealed record OnlineGateBiasReport(
    long Windows,
    long Updates,
    long Version,
    IReadOnlyDictionary<int, double> ImbalanceFirstWindow,
    IReadOnlyDictionary<int, double> ImbalanceLastWindow,
    IReadOnlyDictionary<int, long> LastWindowTokens,
    IReadOnlyDictionary<int, double> Drift)
{
    /// <summary>Before the first window closes.</summary>
    public static OnlineGateBiasReport Empty { get; } = new(0, 0, 0, new Dictionary<int, double>(), new Dictionary<int, double>(), new Dictionary<int, long>(), new Dictionary<int, double>());
}
