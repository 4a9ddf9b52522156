namespace R1Orleans.Engine.Sampling;

/// <summary>
/// How a request turns logits into tokens, with OpenAI/vLLM meanings. A temperature below <see cref="SamplingEps"/>
/// (0 included) is greedy.
/// Validate() rejects out-of-range values with the offending parameter's name (the gateway's 400 `param`).
/// </summary>
public sealed record SamplingParams
{
    public const int MaxStopStrings = 4;
    public const int MaxTopLogprobs = 20;

    /// <summary>
    /// Temperatures below this are greedy (vLLM's <c>_SAMPLING_EPS</c>): dividing logits by a tinier one overflows to
    /// infinity, and the distribution it would describe is the argmax anyway.
    /// </summary>
    public const float SamplingEps = 1e-5f;

    public float Temperature { get; init; } = 1f;

    public float TopP { get; init; } = 1f;

    /// <summary>0 or less: no top-k limit.</summary>
    public int TopK { get; init; }

    public float MinP { get; init; }

    public float PresencePenalty { get; init; }

    public float FrequencyPenalty { get; init; }

    /// <summary>1: none. Above 1 discourages any token already in the prompt or the output (HF/vLLM semantics).</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Same seed, same tokens, whatever else is in the batch. Null: the engine picks one and records it.</summary>
    public ulong? Seed { get; init; }

    public int MaxTokens { get; init; } = 256;

    public IReadOnlyList<string> Stop { get; init; } = [];

    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Keep generating past EOS (benchmarks).</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Return the chosen token's logprob.</summary>
    public bool Logprobs { get; init; }

    /// <summary>0..20 most likely alternatives per position (needs Logprobs).</summary>
    public int TopLogprobs { get; init; }

    public bool SkipSpecialTokens { get; init; } = true;

    public bool IsGreedy => Temperature < SamplingEps;

    public static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0f, MaxTokens = maxTokens };

    public void Validate()
    {
        Check(float.IsFinite(Temperature) && Temperature is >= 0f and <= 2f, "temperature", $"must be in [0, 2], got {Temperature}");
        Check(float.IsFinite(TopP) && TopP is > 0f and <= 1f, "top_p", $"must be in (0, 1], got {TopP}");
        Check(float.IsFinite(MinP) && MinP is >= 0f and <= 1f, "min_p", $"must be in [0, 1], got {MinP}");
        Check(float.IsFinite(PresencePenalty) && PresencePenalty is >= -2f and <= 2f, "presence_penalty", $"must be in [-2, 2], got {PresencePenalty}");
        Check(float.IsFinite(FrequencyPenalty) && FrequencyPenalty is >= -2f and <= 2f, "frequency_penalty", $"must be in [-2, 2], got {FrequencyPenalty}");
        Check(float.IsFinite(RepetitionPenalty) && RepetitionPenalty is > 0f and <= 10f, "repetition_penalty", $"must be in (0, 10], got {RepetitionPenalty}");
        Check(MaxTokens >= 1, "max_tokens", $"must be at least 1, got {MaxTokens}");
        Check(Stop.Count <= MaxStopStrings, "stop", $"at most {MaxStopStrings} stop strings, got {Stop.Count}");
        Check(Stop.All(s => s.Length > 0), "stop", "stop strings must not be empty");
        Check(TopLogprobs is >= 0 and <= MaxTopLogprobs, "top_logprobs", $"must be in 0..{MaxTopLogprobs}, got {TopLogprobs}");
        Check(TopLogprobs == 0 || Logprobs, "top_logprobs", "needs logprobs to be true");
    }

    private static void Check(bool ok, string param, string problem)
    {
        if (!ok)
        {
            throw new SamplingParamException(param, $"{param} {problem}");
        }
    }
}

/// <summary>An invalid sampling parameter; Param names it as the API does.</summary>
public sealed class SamplingParamException(string param, string message) : ArgumentException(message, param)
{
    public string Param { get; } = param;
}
