using System.Diagnostics;
using System.Threading.Channels;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Text.Chat;

namespace R1Orleans.Gateway;

/// <summary>What the engine is asked for: its input, the prompt's length, and one sampling per choice (n of them).</summary>
internal sealed record GenerationPlan(EncodedPrompt Prompt, int PromptTokens, SamplingParams[] Samplings);

/// <summary>One event of one choice, or the exception that ended that choice's stream.</summary>
internal readonly record struct ChoiceEvent(int Index, TextEvent? Event, Exception? Exception);

internal static class GenerationPlanner
{
    /// <summary>
    /// Everything the engine would refuse, checked before anything runs so it can be a 4xx: the template renders,
    /// the prompt is non-empty and in the vocabulary, prompt plus max_tokens fits the context (first by the prompt's
    /// length in bytes, before tokenizing, see <see cref="PromptLengthBound"/>), the sampling is valid, the engine has
    /// room (waiting places plus free running slots). Large prompts are tokenized through <paramref name="gate"/>.
    /// </summary>
    public static async Task<GenerationPlan> PlanAsync(InferenceEngine engine, GatewayOptions options, GenerationSpec spec, TokenizerGate gate, CancellationToken cancellation)
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
                Seed = spec.Sampling.Seed is ulong seed ? unchecked(seed + (ulong)i) : null,
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

        if (!engine.Core.Admits(spec.N, options.MaxWaiting))
        {
            throw new OpenAiErrorException(429, "rate_limit_exceeded", $"the server is busy: {engine.Core.LoadSummary(options.MaxWaiting)}; retry later", null, "rate_limit_exceeded")
            {
                RetryAfterSeconds = options.RetryAfterSeconds,
            };
        }

        // The engine gets the prompt as encoded here: tokenized once per request (chat messages are rendered twice, above to
        // measure the text and by Encode).
        return new GenerationPlan(prompt, tokens.Length, samplings);
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

/// <summary>
/// The n engine requests of one HTTP request, running concurrently, their events merged into one channel in arrival
/// order. Each choice's stream is cancelled when the client goes away (RequestAborted) or when the run is disposed, so
/// the engine frees its KV blocks at its next step. Records the latency metrics of each choice.
/// </summary>
internal sealed class GenerationRun : IDisposable
{
    private readonly Channel<ChoiceEvent> _events = Channel.CreateUnbounded<ChoiceEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _cts;
    private readonly GatewayMetrics _metrics;
    private readonly long _start;
    private int _live;

    public GenerationRun(InferenceEngine engine, GenerationPlan plan, GatewayMetrics metrics, long startTimestamp, CancellationToken aborted)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        _metrics = metrics;
        _start = startTimestamp;
        _live = plan.Samplings.Length;
        for (int i = 0; i < plan.Samplings.Length; i++)
        {
            // Runs synchronously up to the first wait, so choice i is queued before choice i + 1.
            _ = PumpAsync(engine, plan, i);
        }
    }

    public ChannelReader<ChoiceEvent> Events => _events.Reader;

    /// <summary>Stops every choice still running (idempotent).</summary>
    public void Dispose()
    {
        try
        {
            _cts.Cancel();
        }
        catch (AggregateException)
        {
            // A registration callback failed; the engine's own Cancel does not throw.
        }

        _cts.Dispose();
    }

    private async Task PumpAsync(InferenceEngine engine, GenerationPlan plan, int index)
    {
        long last = 0;
        bool finished = false;
        Usage usage = new(plan.PromptTokens, 0);
        try
        {
            await foreach (TextEvent e in engine.GenerateAsync(plan.Prompt, plan.Samplings[index], _cts.Token).ConfigureAwait(false))
            {
                usage = e.Usage;
                long now = Stopwatch.GetTimestamp();
                if (e.Token >= 0)
                {
                    if (last == 0)
                    {
                        _metrics.RecordFirstToken(Stopwatch.GetElapsedTime(_start, now).TotalSeconds);
                    }
                    else
                    {
                        _metrics.RecordInterToken(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                    }

                    last = now;
                }

                if (e.Finish is FinishReason finish)
                {
                    finished = true;
                    _metrics.RecordFinished(finish, Stopwatch.GetElapsedTime(_start, now).TotalSeconds, e.Usage);
                }

                _events.Writer.TryWrite(new ChoiceEvent(index, e, null));
            }
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
            // The client went away or the response ended: the engine ends this choice (Abort) and frees its blocks at its
            // next step; the stream may stop before that event arrives.
            if (!finished)
            {
                _metrics.RecordFinished(FinishReason.Abort, Stopwatch.GetElapsedTime(_start).TotalSeconds, usage);
            }
        }
        catch (Exception e)
        {
            _events.Writer.TryWrite(new ChoiceEvent(index, null, e));
        }
        finally
        {
            if (Interlocked.Decrement(ref _live) == 0)
            {
                _events.Writer.TryComplete();
            }
        }
    }
}
