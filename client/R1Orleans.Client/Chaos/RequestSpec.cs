using System.Text.Json.Serialization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// What one workload request asks: a question (and its known answer, if any), sampling (greedy at temperature 0, or a
/// temperature with a seed), max_tokens, streamed or not.
/// </summary>
public sealed record RequestSpec(string Prompt, double Temperature, int? Seed, int MaxTokens, bool Stream, string? Answer = null)
{
    /// <summary>Greedy: temperature 0.</summary>
    [JsonIgnore]
    public bool Greedy => Temperature == 0;

    /// <summary>What the answer depends on (everything but streaming and the known answer): the key of its reference.</summary>
    [JsonIgnore]
    public ReferenceKey Key => new(Prompt, Temperature, Seed, MaxTokens);
}

/// <summary>The parameters that fix an answer: a fault-free single silo gives one answer for each.</summary>
public sealed record ReferenceKey(string Prompt, double Temperature, int? Seed, int MaxTokens);
