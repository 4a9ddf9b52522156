using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway.Ranks;
using R1Orleans.Text.Chat;

namespace R1Orleans.Gateway;

/// <summary>Turns a parsed request into what the engine is asked for, or the 4xx/429 it gets instead.</summary>
internal static class GenerationPlanner
{
    /// <summary>
    /// Everything the engine would refuse, checked before anything runs so it can be a 4xx: the template renders,
    /// the prompt is non-empty and in the vocabulary, prompt plus max_tokens fits the context (first by the prompt's
    /// length in bytes, before tokenizing, see <see cref="PromptLengthBound"/>), the sampling is valid, the engine has
    /// room (waiting places plus free running slots) on the rank <paramref name="ranks"/> picks. Large prompts are tokenized
    /// through <paramref name="gate"/>.
    /// </summary>
    public static async Task<GenerationPlan> PlanAsync(InferenceEngine engine, IRankRouter ranks, GatewayOptions options, GenerationSpec spec, TokenizerGate gate, CancellationToken cancellation)
    {
        EncodedPrompt prompt;
        try
        {
            // The text the tokenizer will see (the rendered chat for messages; none for token ids or without a template,
            // where Encode says why). Rendering costs little next to tokenizing.
            string? text = spec.Input.Text
                ?? (spec.Input.Messages is { } messages && engine.Template is { } template ? template.Render(messages, addGenerationPrompt: true, spec.Input.Tools) : null);
            long bytes = text is null ? 0 : System.Text.Encoding.UTF8.GetByteCount(text);
            if (bytes > TokenizerGate.InlineBytes)
            {
                // Only large prompts are worth refusing unread; small ones are tokenized at once for the exact count.
                RefuseIfTooManyBytes(engine, spec, bytes);
                RefuseIfTooManyChars(engine, spec, text!.Length);
                if (gate.Queued >= options.MaxWaiting)
                {
                    throw new OpenAiErrorException(429, "rate_limit_exceeded", $"the server is busy: {gate.Queued} large prompts are waiting to be tokenized (limit {options.MaxWaiting}); retry later", null, "rate_limit_exceeded")
                    {
                        RetryAfterSeconds = options.RetryAfterSeconds,
                    };
                }

                prompt = await gate.RunAsync(() => engine.Encode(spec.Input), cancellation).ConfigureAwait(false);
            }
            else
            {
                prompt = engine.Encode(spec.Input);
            }
        }
        catch (TemplateException e)
        {
            throw OpenAiErrorException.BadRequest($"the chat template rejected the messages: {e.Reason}", "messages", "invalid_messages");
        }
        catch (InvalidOperationException e) when (spec.Chat)
        {
            // A checkpoint without a usable chat template (the engine says why).
            throw OpenAiErrorException.BadRequest($"{e.Message}; use /v1/completions", "messages", "chat_not_supported");
        }

        int[] tokens = prompt.Tokens;
        if (tokens.Length == 0)
        {
            throw OpenAiErrorException.BadRequest("the prompt is empty", spec.PromptParam, "invalid_value");
        }

        int vocab = engine.Config.VocabSize;
        int bad = Array.FindIndex(tokens, t => (uint)t >= (uint)vocab);
        if (bad >= 0)
        {
            throw OpenAiErrorException.BadRequest($"token {tokens[bad]} at index {bad} is outside the vocabulary (0..{vocab - 1})", spec.PromptParam, "invalid_value");
        }

        int maxLen = engine.Core.MaxModelLen;

        // max_tokens as sent (up to 2^63 - 1): reported as given, never clamped; once it fits the context it fits an int.
        long asked = Math.Max(spec.MaxTokens ?? Math.Min(options.DefaultMaxTokens, maxLen - tokens.Length), 1);
        if (asked > maxLen - tokens.Length)
        {
            throw ContextLengthExceeded(maxLen, tokens.Length, asked, spec);
        }

        int maxTokens = (int)asked;

        var samplings = new SamplingParams[spec.N];
        for (int i = 0; i < spec.N; i++)
        {
            samplings[i] = spec.Sampling with
            {
                MaxTokens = maxTokens,
                // Every request gets its seed here (the one asked for, or a random one): the gateway's record of the request
                // (RequestTable) must be enough to resume it on another rank with the same draws.
                Seed = spec.Sampling.Seed is ulong seed ? unchecked(seed + (ulong)i) : (ulong)Random.Shared.NextInt64(),
            };
        }

        try
        {
            samplings[0].Validate();
        }
        catch (SamplingParamException e)
        {
            throw OpenAiErrorException.BadRequest(e.Message, e.Param, "invalid_value");
        }

        IRank rank = ranks.Pick(spec.N, options.MaxWaiting)
            ?? throw new OpenAiErrorException(429, "rate_limit_exceeded", $"the server is busy: {ranks.BusySummary(options.MaxWaiting)}; retry later", null, "rate_limit_exceeded")
            {
                RetryAfterSeconds = options.RetryAfterSeconds,
            };

        // The engine gets the prompt as encoded here: tokenized once per request (chat messages are rendered twice, above to
        // measure the text and by Encode).
        return new GenerationPlan(prompt, tokens.Length, samplings, rank);
    }

    /// <summary>
    /// Refuses, before tokenizing, a prompt of <paramref name="bytes"/> UTF-8 bytes that cannot fit: it needs at least
    /// ⌈bytes / longest token⌉ tokens, plus max_tokens (at least 1: without max_tokens the default shrinks to what is left).
    /// </summary>
    private static void RefuseIfTooManyBytes(InferenceEngine engine, GenerationSpec spec, long bytes)
    {
        PromptLengthBound bound = PromptLengthBound.Of(engine);
        int maxLen = engine.Core.MaxModelLen;
        long minTokens = bound.MinTokens(bytes);
        long asked = Math.Max(spec.MaxTokens ?? 1, 1);
        if (minTokens > maxLen - asked)
        {
            throw OpenAiErrorException.BadRequest(
                $"This model's maximum context length is {maxLen} tokens. However, you requested at least {(decimal)minTokens + asked} tokens "
                + $"({bytes} bytes in the {spec.PromptParam}: at least {minTokens} tokens, as no token of this model's tokenizer stands for more than "
                + $"{bound.MaxBytesPerToken} bytes; {asked} in the completion). Please reduce the length of the {spec.PromptParam} or {spec.MaxTokensParam}.",
                spec.PromptParam,
                "context_length_exceeded");
        }
    }

    /// <summary>
    /// A text longer than the tokenizer takes at all (R1TokenizerOptions.MaxInputChars, 2^20 by default) is far beyond
    /// any context: the same 400, where Encode would throw. Reached only without a byte bound or with a very long context
    /// (a chat template can render more characters than the body held, e.g. tool schemas re-indented).
    /// </summary>
    private static void RefuseIfTooManyChars(InferenceEngine engine, GenerationSpec spec, int chars)
    {
        int max = engine.Tokenizer.Options.MaxInputChars;
        if (chars > max)
        {
            throw OpenAiErrorException.BadRequest(
                $"This model's maximum context length is {engine.Core.MaxModelLen} tokens. However, the {spec.PromptParam} is {chars} characters long"
                + $"{(spec.Chat ? " as rendered by the chat template" : "")}, more than the tokenizer takes ({max}). Please reduce the length of the {spec.PromptParam}.",
                spec.PromptParam,
                "context_length_exceeded");
        }
    }

    /// <summary>OpenAI's context_length_exceeded 400, with the numbers as requested.</summary>
    public static OpenAiErrorException ContextLengthExceeded(int maxLen, long promptTokens, long maxTokens, GenerationSpec spec)
    {
        // Both terms are at most 2^63 - 1: their sum is exact in decimal.
        decimal total = (decimal)promptTokens + maxTokens;
        return OpenAiErrorException.BadRequest(
            $"This model's maximum context length is {maxLen} tokens. However, you requested {total} tokens "
            + $"({promptTokens} in the {spec.PromptParam}, {maxTokens} in the completion). Please reduce the length of the {spec.PromptParam} or {spec.MaxTokensParam}.",
            spec.PromptParam,
            "context_length_exceeded");
    }

    /// <summary>An exception from submitting to the engine, as the error a client gets (null: unexpected, a 500).</summary>
    public static OpenAiErrorException? Map(Exception e, GatewayOptions options, string promptParam) => e switch
    {
        OpenAiErrorException api => api,
        SamplingParamException p => OpenAiErrorException.BadRequest(p.Message, p.Param, "invalid_value"),
        ContextLengthExceededException c => OpenAiErrorException.BadRequest(c.Message, promptParam, "context_length_exceeded"),
        EngineOverloadedException o => new OpenAiErrorException(429, "rate_limit_exceeded", $"the server is busy: {o.Message}; retry later", null, "rate_limit_exceeded")
        {
            RetryAfterSeconds = options.RetryAfterSeconds,
        },
        TemplateException t => OpenAiErrorException.BadRequest($"the chat template rejected the messages: {t.Reason}", "messages", "invalid_messages"),
        _ => null,
    };
}
