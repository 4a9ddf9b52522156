using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Engine.Api;

/// <summary>
/// One streamed step of a request, as an embedding application sees it: the token, its text piece, and for chat
/// requests of &lt;think&gt; models that piece split into reasoning and answer. The last event has Finish set.
/// </summary>
public sealed record TextEvent(
    int Token,
    string Text,
    string Reasoning,
    string Content,
    float? Logprob,
    IReadOnlyList<TokenLogprob>? TopLogprobs,
    FinishReason? Finish,
    Usage Usage,
    string? Error = null);
