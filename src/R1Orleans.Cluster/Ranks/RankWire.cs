using System.Text.Json;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Grains.Ranks;

namespace R1Orleans.Cluster.Ranks;

/// <summary>The engine's request and event types to and from the rank grain's wire types, losslessly.</summary>
public static class RankWire
{
    public static RankRequest Request(EncodedPrompt prompt, SamplingParams sampling)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(sampling);
        return new RankRequest(prompt.Tokens, prompt.OpensThink, prompt.SplitsReasoning, JsonSerializer.Serialize(sampling));
    }

    public static EncodedPrompt Prompt(RankRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new EncodedPrompt(request.PromptTokens, request.OpensThink, request.SplitsReasoning);
    }

    public static SamplingParams Sampling(RankRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return JsonSerializer.Deserialize<SamplingParams>(request.SamplingJson)
            ?? throw new ArgumentException("the request's sampling is null", nameof(request));
    }

    public static RankEvent Event(TextEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new RankEvent(
            e.Token, e.Text, e.Reasoning, e.Content, e.Logprob,
            e.TopLogprobs?.Select(t => t.Token).ToArray(), e.TopLogprobs?.Select(t => t.Logprob).ToArray(),
            e.Finish is FinishReason f ? (int)f : null, e.Usage.PromptTokens, e.Usage.CompletionTokens, e.Error);
    }

    public static TextEvent Event(RankEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        TokenLogprob[]? top = null;
        if (e.TopTokens is { } tokens && e.TopLogprobs is { } logprobs)
        {
            top = new TokenLogprob[tokens.Length];
            for (int i = 0; i < tokens.Length; i++)
            {
                top[i] = new TokenLogprob(tokens[i], logprobs[i]);
            }
        }

        return new TextEvent(
            e.Token, e.Text, e.Reasoning, e.Content, e.Logprob, top,
            e.Finish is int f ? (FinishReason)f : null, new Usage(e.PromptTokens, e.CompletionTokens), e.Error);
    }
}
