namespace R1Orleans.Grains.Balancing;

/// <summary>
/// What bias mode has done on a cluster (<see cref="ClusterGateBias.Report"/>): the version pushed last, windows of
/// cluster load taken and bias updates made, and per MoE layer the expert imbalance (max/mean routed tokens, summed over
/// silos and replicas) of the first update's window (the checkpoint's bias: before) and of the latest (after), the
/// tokens of that window and the drift of the bias from the checkpoint's (max |b − b₀|); and the silos the last push
/// reached and missed.
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.GateBiasReport")]
public sealed record GateBiasReport(
    [property: Id(0)] long Version,
    [property: Id(1)] long Updates,
    [property: Id(2)] double Gamma,
    [property: Id(3)] double MaxDrift,
    [property: Id(4)] Dictionary<int, double> ImbalanceFirstWindow,
    [property: Id(5)] Dictionary<int, double> ImbalanceLastWindow,
    [property: Id(6)] Dictionary<int, long> LastWindowTokens,
    [property: Id(7)] Dictionary<int, double> Drift,
    [property: Id(8)] string[] PushedTo,
    [property: Id(9)] string[] PushFailed);
