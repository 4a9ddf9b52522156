using R1Orleans.Engine.Sampling;

namespace R1Orleans.Engine.Scheduling;

/// <summary>Why a request ended (OpenAI's finish_reason, plus abort for cancellation and error).</summary>
public enum FinishReason
{
    Stop,
    Length,
    Abort,
    Error,
}

/// <summary>A request as the engine takes it: token ids and sampling. Text and chat are turned into this above the core.</summary>
public sealed record GenerationRequest(string Id, int[] PromptTokens, SamplingParams Sampling);

public sealed record Usage(int PromptTokens, int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>
/// One event of a request's stream: a generated token (with its text piece and logprobs) or the final event
/// (Finish set; Token is -1 when no token comes with it).
/// </summary>
public sealed record GenerationEvent(
    string RequestId,
    int Token,
    string Text,
    float? Logprob,
    IReadOnlyList<TokenLogprob>? TopLogprobs,
    FinishReason? Finish,
    Usage Usage,
    string? Error = null);

/// <summary>
/// A request's whole state, small and serializable: prompt, tokens generated so far, sampling parameters and the seed
/// (the RNG position is the number of generated tokens). Another silo re-prefills it and continues with the same output.
/// </summary>
public sealed record RequestState(string Id, int[] PromptTokens, int[] OutputTokens, SamplingParams Sampling, ulong Seed);
