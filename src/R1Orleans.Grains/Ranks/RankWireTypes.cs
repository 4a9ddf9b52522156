namespace R1Orleans.Grains.Ranks;

/// <summary>
/// A request as a rank takes it: the encoded prompt and the sampling (the engine's <c>SamplingParams</c> as JSON, so a
/// field added there travels without a change here; floats round-trip exactly).
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.RankRequest")]
public sealed record RankRequest(
    [property: Id(0)] int[] PromptTokens,
    [property: Id(1)] bool OpensThink,
    [property: Id(2)] bool SplitsReasoning,
    [property: Id(3)] string SamplingJson);

/// <summary>
/// One event of a request's stream (the engine's <c>TextEvent</c>); <see cref="Finish"/> is the FinishReason's value.
/// <see cref="HandedOff"/> is the last event of a request that a draining rank gives back: the gateway resumes it on
/// another rank from the tokens it received (no token of this event counts).
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.RankEvent")]
public sealed record RankEvent(
    [property: Id(0)] int Token,
    [property: Id(1)] string Text,
    [property: Id(2)] string Reasoning,
    [property: Id(3)] string Content,
    [property: Id(4)] float? Logprob,
    [property: Id(5)] int[]? TopTokens,
    [property: Id(6)] float[]? TopLogprobs,
    [property: Id(7)] int? Finish,
    [property: Id(8)] int PromptTokens,
    [property: Id(9)] int CompletionTokens,
    [property: Id(10)] string? Error,
    [property: Id(11)] bool HandedOff = false)
{
    /// <summary>The event that ends a request handed off by a draining rank.</summary>
    public static RankEvent HandOff { get; } = new(-1, "", "", "", null, null, null, null, 0, 0, null, HandedOff: true);
}

/// <summary>A rank's load: requests running and waiting, its running limit, and whether its model is loaded.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.RankLoad")]
public sealed record RankLoad(
    [property: Id(0)] int Running,
    [property: Id(1)] int Waiting,
    [property: Id(2)] int MaxNumSeqs,
    [property: Id(3)] bool Ready);

/// <summary>One silo's rank and holder as <c>/cluster/status</c> shows them (counters since the silo started).</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.RankReport")]
public sealed record RankReport(
    [property: Id(0)] int Running,
    [property: Id(1)] int Waiting,
    [property: Id(2)] long Finished,
    [property: Id(3)] long GeneratedTokens,
    [property: Id(4)] long DispatchSentMessages,
    [property: Id(5)] long DispatchSentBytes,
    [property: Id(6)] long DispatchReceivedMessages,
    [property: Id(7)] long DispatchReceivedBytes,
    [property: Id(8)] long TokensRunByHolder,
    [property: Id(9)] int ExpertsHeld,
    [property: Id(10)] long? PlacementVersion);
