using System.Diagnostics;
using System.Text.Json.Nodes;

namespace R1Orleans.Client.Http;

/// <summary>Which OpenAI API a benchmark drives.</summary>
public enum BenchEndpoint
{
    Chat,
    Completions,
}

/// <summary>What a load test sends and how.</summary>
public sealed record BenchOptions
{
    public required string Model { get; init; }

    public BenchEndpoint Endpoint { get; init; } = BenchEndpoint.Chat;

    public int NumRequests { get; init; } = 100;

    public int Warmup { get; init; }

    /// <summary>In-flight cap (closed loop); null with a rate means arrivals only.</summary>
    public int? Concurrency { get; init; }

    /// <summary>Poisson arrivals per second (open loop); null: closed loop.</summary>
    public double? RequestRate { get; init; }

    public int PromptTokens { get; init; } = 128;

    /// <summary>Distinct prompts (request i sends prompt i mod N): a few repeated make a few experts hot; null: every prompt differs.</summary>
    public int? DistinctPrompts { get; init; }

    public int OutputTokens { get; init; } = 128;

    public bool IgnoreEos { get; init; } = true;

    public double? Temperature { get; init; }

    public int Seed { get; init; }

    /// <summary>Per-request limit, whole stream included.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    public string Path => Endpoint == BenchEndpoint.Chat ? "chat/completions" : "completions";
}

/// <summary>The measurements of one request (times in seconds from its send).</summary>
public sealed record RequestResult
{
    public int Index { get; init; }

    public bool Success { get; init; }

    public string? Error { get; init; }

    /// <summary>Send time, seconds from the start of its phase.</summary>
    public double StartSeconds { get; init; }

    /// <summary>Time to the first chunk carrying content or reasoning text.</summary>
    public double? TtftSeconds { get; init; }

    public double E2eSeconds { get; init; }

    /// <summary>Gaps between consecutive text-carrying chunks after the first.</summary>
    public IReadOnlyList<double> ItlSeconds { get; init; } = [];

    public int PromptTokens { get; init; }

    public int OutputTokens { get; init; }

    /// <summary>Whether token counts came from the server's usage (else counted chunks and synthesized words).</summary>
    public bool UsageReported { get; init; }

    /// <summary>Time per output token after the first: (E2E − TTFT)/(tokens − 1); null below 2 tokens.</summary>
    public double? TpotSeconds => TtftSeconds is double ttft && OutputTokens > 1 ? (E2eSeconds - ttft) / (OutputTokens - 1) : null;
}

/// <summary>
/// A load generator for OpenAI-compatible servers: synthesized prompts, streamed requests on a <see cref="LoadScheduler"/>,
/// per-request TTFT / inter-token latency / end-to-end latency / token counts straight from the server-sent events.
/// </summary>
public sealed class BenchRunner
{
    private readonly OpenAiClient _client;
    private readonly BenchOptions _options;
    private readonly PromptSynthesizer _prompts;

    public BenchRunner(OpenAiClient client, BenchOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.NumRequests);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Warmup);
        ArgumentOutOfRangeException.ThrowIfNegative(options.PromptTokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.OutputTokens, 1);
        _client = client;
        _options = options;
        _prompts = new PromptSynthesizer(options.Seed);
    }

    /// <summary>Runs the warmup requests (not measured), then the measured ones; <paramref name="progress"/> gets each measured result.</summary>
    public async Task<BenchReport> RunAsync(IProgress<RequestResult>? progress = null, CancellationToken cancellationToken = default)
    {
        if (_options.Warmup > 0)
        {
            // Warmup: closed loop at the same concurrency (or 1), prompts distinct from the measured ones.
            var warmup = new LoadScheduler(_options.Concurrency ?? 1, null);
            long warmStart = Stopwatch.GetTimestamp();
            await warmup.RunAsync(_options.Warmup, (i, ct) => RunOneAsync(_options.NumRequests + i, warmStart, ct), cancellationToken).ConfigureAwait(false);
        }

        var scheduler = new LoadScheduler(_options.Concurrency, _options.RequestRate, _options.Seed);
        var results = new RequestResult[_options.NumRequests];
        long start = Stopwatch.GetTimestamp();
        await scheduler.RunAsync(
            _options.NumRequests,
            async (i, ct) =>
            {
                RequestResult r = await RunOneAsync(i, start, ct).ConfigureAwait(false);
                results[i] = r;
                progress?.Report(r);
            },
            cancellationToken).ConfigureAwait(false);
        double duration = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return BenchReport.Create(_options, scheduler.Concurrency, results, duration);
    }

    /// <summary>The request body of request <paramref name="index"/>.</summary>
    public JsonObject RequestBody(int index)
    {
        string prompt = _prompts.Create(_options.DistinctPrompts is int distinct ? index % distinct : index, _options.PromptTokens);
        var generation = new GenerationOptions
        {
            Model = _options.Model,
            MaxTokens = _options.OutputTokens,
            IgnoreEos = _options.IgnoreEos,
            Temperature = _options.Temperature,
            Stream = true,
            IncludeUsage = true,
        };
        return _options.Endpoint == BenchEndpoint.Chat
            ? OpenAiClient.ChatRequest([new ChatMessage("user", prompt)], generation)
            : OpenAiClient.CompletionRequest(prompt, generation);
    }

    /// <summary>Sends request <paramref name="index"/> and measures it; never throws except on cancellation of <paramref name="cancellationToken"/>.</summary>
    public async Task<RequestResult> RunOneAsync(int index, long phaseStart, CancellationToken cancellationToken)
    {
        JsonObject body = RequestBody(index);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        long sent = Stopwatch.GetTimestamp();
        double startSeconds = Stopwatch.GetElapsedTime(phaseStart, sent).TotalSeconds;
        double? ttft = null;
        long last = 0;
        var itl = new List<double>();
        int chunks = 0;
        TokenUsage? usage = null;
        bool done = false, finished = false;
        string? error = null;
        try
        {
            await foreach (CompletionChunk chunk in _client.StreamAsync(_options.Path, body, timeout.Token).ConfigureAwait(false))
            {
                long now = Stopwatch.GetTimestamp();
                if (chunk.Error is not null)
                {
                    error = "error event: " + chunk.Error;
                    break;
                }

                if (chunk.IsDone)
                {
                    done = true;
                    break;
                }

                if (chunk.HasText)
                {
                    chunks++;
                    if (ttft is null)
                    {
                        ttft = Stopwatch.GetElapsedTime(sent, now).TotalSeconds;
                    }
                    else
                    {
                        itl.Add(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                    }

                    last = now;
                }

                finished |= chunk.FinishReason is not null;
                if (chunk.Usage is { } u)
                {
                    usage = u;
                }
            }

            if (error is null && !done && !finished)
            {
                error = "stream ended before a finish_reason or [DONE]";
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error = $"timeout after {_options.Timeout.TotalSeconds:0.#} s";
        }
        catch (OpenAiException e)
        {
            error = e.Message;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or InvalidDataException)
        {
            error = $"{e.GetType().Name}: {e.Message}";
        }

        double e2e = Stopwatch.GetElapsedTime(sent).TotalSeconds;
        bool usageReported = usage?.CompletionTokens is not null;
        return new RequestResult
        {
            Index = index,
            Success = error is null,
            Error = error,
            StartSeconds = startSeconds,
            TtftSeconds = ttft,
            E2eSeconds = e2e,
            ItlSeconds = itl,
            PromptTokens = usage?.PromptTokens ?? _options.PromptTokens,
            OutputTokens = usage?.CompletionTokens ?? chunks,
            UsageReported = usageReported,
        };
    }
}
