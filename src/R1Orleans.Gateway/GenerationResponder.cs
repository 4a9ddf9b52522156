using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Text.Tools;

namespace R1Orleans.Gateway;

/// <summary>
/// Answers one generation request from its run: a single JSON response, or an SSE stream of chunks. Nothing is sent
/// before every choice has produced its first event, so a request the engine refuses still gets a proper HTTP error;
/// once the stream is open, an error is sent as <c>data: {"error":...}</c> followed by <c>data: [DONE]</c>.
/// </summary>
internal sealed partial class GenerationResponder
{
    private static readonly byte[] s_data = "data: "u8.ToArray();
    private static readonly byte[] s_eventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] s_done = "data: [DONE]\n\n"u8.ToArray();

    private readonly HttpContext _http;
    private readonly ResponseFormat _format;
    private readonly GenerationSpec _spec;
    private readonly GenerationPlan _plan;
    private readonly GatewayOptions _options;
    private readonly ILogger _logger;
    private readonly string _id;
    private readonly long _created;
    private readonly string _model;
    private readonly ChoiceState[] _choices;
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    public GenerationResponder(HttpContext http, ResponseFormat format, GenerationSpec spec, GenerationPlan plan, ServedModelInfo info, GatewayOptions options, ILogger logger)
    {
        _http = http;
        _format = format;
        _spec = spec;
        _plan = plan;
        _options = options;
        _logger = logger;
        _id = format.IdPrefix + Guid.NewGuid().ToString("N");
        _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _model = info.Id;
        _choices = [.. Enumerable.Range(0, spec.N).Select(i => new ChoiceState(i) { ToolFilter = spec.ParsesToolCalls ? new ToolCallStreamFilter() : null })];
    }

    private bool WantLogprobs => _spec.Sampling.Logprobs;

    public Task RespondAsync(GenerationRun run) => RespondAsync(run.Events);

    /// <summary>Answers from the choices' events (the run's, or scripted ones in tests).</summary>
    public async Task RespondAsync(ChannelReader<ChoiceEvent> events)
    {
        CancellationToken aborted = _http.RequestAborted;
        var buffered = new List<ChoiceEvent>();
        var started = new bool[_choices.Length];
        int startedCount = 0;
        try
        {
            // Until every choice has its first event (the engine accepted it), errors are still HTTP errors.
            while (startedCount < _choices.Length && await events.WaitToReadAsync(aborted).ConfigureAwait(false))
            {
                while (events.TryRead(out ChoiceEvent e))
                {
                    ThrowIfFailed(e);
                    buffered.Add(e);
                    if (!started[e.Index])
                    {
                        started[e.Index] = true;
                        startedCount++;
                    }
                }
            }

            if (_spec.Stream)
            {
                await StreamAsync(buffered, events, aborted).ConfigureAwait(false);
                return;
            }

            foreach (ChoiceEvent e in buffered)
            {
                Apply(e.Index, e.Event!, stream: false);
            }

            await foreach (ChoiceEvent e in events.ReadAllAsync(aborted).ConfigureAwait(false))
            {
                ThrowIfFailed(e);
                Apply(e.Index, e.Event!, stream: false);
            }

            if (aborted.IsCancellationRequested)
            {
                return;
            }

            await WriteResponseAsync(aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away; disposing the run cancels the engine requests.
        }
    }

    /// <summary>A choice that failed before the response started: the HTTP error the client gets.</summary>
    private void ThrowIfFailed(ChoiceEvent e)
    {
        if (e.Exception is Exception ex)
        {
            throw GenerationPlanner.Map(ex, _options, _spec.PromptParam) ?? new OpenAiErrorException("generation failed", ex);
        }

        if (e.Event!.Finish is FinishReason.Error or FinishReason.Abort && !_http.RequestAborted.IsCancellationRequested)
        {
            throw new OpenAiErrorException(500, OpenAiErrorException.ServerErrorType, EngineError(e.Event), null, null);
        }
    }

    private static string EngineError(TextEvent e) =>
        e.Finish == FinishReason.Abort ? "the request was aborted by the server" : $"the engine failed the request: {e.Error ?? "unknown error"}";

    /// <summary>Folds an event into its choice; returns the text pieces it adds.</summary>
    private (string Reasoning, string Content, string Text) Apply(int index, TextEvent e, bool stream)
    {
        ChoiceState c = _choices[index];
        if (e.Token >= 0 && e.Logprob is float lp)
        {
            c.Logprobs.Add(new LogprobEntry(e.Token, lp, e.TopLogprobs ?? []));
        }

        c.Text.Append(e.Text);
        string content = e.Content;
        if (c.ToolFilter is not null)
        {
            content = c.ToolFilter.Push(content);
            if (e.Finish is not null)
            {
                (string tail, IReadOnlyList<ToolCallText> calls) = c.ToolFilter.Finish();
                content += tail;
                c.ToolCalls = [.. calls.Select(call => ("call_" + Guid.NewGuid().ToString("N")[..24], call))];
            }
        }

        if (!stream)
        {
            c.Reasoning.Append(e.Reasoning);
            c.Content.Append(content);
        }

        if (e.Finish is FinishReason f)
        {
            c.Finish = f;
            c.Error = e.Error;
            c.Usage = e.Usage;
        }

        return _spec.Chat ? (e.Reasoning, content, e.Text) : ("", e.Text, e.Text);
    }

    private Usage TotalUsage() =>
        new(_choices.Select(c => c.Usage?.PromptTokens).FirstOrDefault(p => p is not null) ?? _plan.PromptTokens, _choices.Sum(c => c.Usage?.CompletionTokens ?? 0));

    private async Task WriteResponseAsync(CancellationToken aborted)
    {
        _buffer.Clear();
        using (var w = new Utf8JsonWriter(_buffer, ResponseJson.Options))
        {
            StartEnvelope(w, _format.Object);
            foreach (ChoiceState c in _choices)
            {
                _format.WriteChoice(w, c, WantLogprobs);
            }

            EndEnvelope(w, TotalUsage());
        }

        _http.Response.StatusCode = StatusCodes.Status200OK;
        _http.Response.ContentType = "application/json";
        _http.Response.ContentLength = _buffer.WrittenCount;
        await _http.Response.Body.WriteAsync(_buffer.WrittenMemory, aborted).ConfigureAwait(false);
    }

    private async Task StreamAsync(List<ChoiceEvent> buffered, ChannelReader<ChoiceEvent> events, CancellationToken aborted)
    {
        HttpResponse response = _http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        _http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            await response.StartAsync(aborted).ConfigureAwait(false);
            if (_format.HasStartChunk)
            {
                foreach (ChoiceState c in _choices)
                {
                    await ChunkAsync(w => _format.WriteStartChoice(w, c.Index), null, aborted).ConfigureAwait(false);
                }
            }

            foreach (ChoiceEvent e in buffered)
            {
                await StreamEventAsync(e.Index, e.Event!, aborted).ConfigureAwait(false);
            }

            await foreach (ChoiceEvent e in events.ReadAllAsync(aborted).ConfigureAwait(false))
            {
                if (e.Exception is Exception ex)
                {
                    OpenAiErrorException? known = GenerationPlanner.Map(ex, _options, _spec.PromptParam);
                    if (known is null)
                    {
                        LogStreamFailure(_logger, _id, ex);
                    }

                    await ErrorEventAsync(known ?? new OpenAiErrorException("internal server error"), aborted).ConfigureAwait(false);
                    return;
                }

                if (e.Event!.Finish is FinishReason.Error or FinishReason.Abort)
                {
                    if (aborted.IsCancellationRequested)
                    {
                        return;
                    }

                    await ErrorEventAsync(new OpenAiErrorException(EngineError(e.Event)), aborted).ConfigureAwait(false);
                    return;
                }

                await StreamEventAsync(e.Index, e.Event, aborted).ConfigureAwait(false);
            }

            if (aborted.IsCancellationRequested)
            {
                return;
            }

            if (_spec.IncludeUsage)
            {
                await ChunkAsync(null, TotalUsage(), aborted).ConfigureAwait(false);
            }

            await response.Body.WriteAsync(s_done, aborted).ConfigureAwait(false);
            await response.Body.FlushAsync(aborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client went away mid-stream; the run is cancelled when disposed.
        }
        catch (Exception e)
        {
            // A bug of ours after the stream began: say so in the stream rather than cut it off.
            LogStreamFailure(_logger, _id, e);
            try
            {
                await ErrorEventAsync(new OpenAiErrorException("internal server error"), aborted).ConfigureAwait(false);
            }
            catch (Exception again) when (again is IOException or OperationCanceledException)
            {
            }
        }
    }

    private async Task StreamEventAsync(int index, TextEvent e, CancellationToken aborted)
    {
        ChoiceState c = _choices[index];
        (string reasoning, string content, string text) = Apply(index, e, stream: true);
        bool hasText = reasoning.Length > 0 || content.Length > 0;
        if (hasText || (e.Finish is not null && c.Logprobs.Count > 0))
        {
            List<LogprobEntry>? logprobs = WantLogprobs ? [.. c.Logprobs] : null;
            c.Logprobs.Clear();
            await ChunkAsync(w => _format.WriteDeltaChoice(w, c, reasoning, content, text, logprobs), null, aborted).ConfigureAwait(false);
        }

        if (e.Finish is not null)
        {
            if (c.ToolCalls.Count > 0 && _format is ChatFormat chat)
            {
                await ChunkAsync(w => chat.WriteToolCallsDelta(w, c), null, aborted).ConfigureAwait(false);
            }

            await ChunkAsync(w => _format.WriteFinishChoice(w, index, c.FinishLabel), null, aborted).ConfigureAwait(false);
        }
    }

    /// <summary>One <c>data: {chunk}</c> event, flushed: a choice, or none and the usage.</summary>
    private async Task ChunkAsync(Action<Utf8JsonWriter>? choice, Usage? usage, CancellationToken aborted)
    {
        _buffer.Clear();
        _buffer.Write(s_data);
        using (var w = new Utf8JsonWriter(_buffer, ResponseJson.Options))
        {
            StartEnvelope(w, _format.ChunkObject);
            choice?.Invoke(w);
            EndEnvelope(w, usage);
        }

        _buffer.Write(s_eventEnd);
        await _http.Response.Body.WriteAsync(_buffer.WrittenMemory, aborted).ConfigureAwait(false);
        await _http.Response.Body.FlushAsync(aborted).ConfigureAwait(false);
    }

    private async Task ErrorEventAsync(OpenAiErrorException error, CancellationToken aborted)
    {
        _buffer.Clear();
        _buffer.Write(s_data);
        using (var w = new Utf8JsonWriter(_buffer, ResponseJson.Options))
        {
            error.WriteEnvelope(w);
        }

        _buffer.Write(s_eventEnd);
        _buffer.Write(s_done);
        await _http.Response.Body.WriteAsync(_buffer.WrittenMemory, aborted).ConfigureAwait(false);
        await _http.Response.Body.FlushAsync(aborted).ConfigureAwait(false);
    }

    private void StartEnvelope(Utf8JsonWriter w, string obj)
    {
        w.WriteStartObject();
        w.WriteString("id", _id);
        w.WriteString("object", obj);
        w.WriteNumber("created", _created);
        w.WriteString("model", _model);
        w.WriteStartArray("choices");
    }

    private static void EndEnvelope(Utf8JsonWriter w, Usage? usage)
    {
        w.WriteEndArray();
        if (usage is not null)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", usage.PromptTokens);
            w.WriteNumber("completion_tokens", usage.CompletionTokens);
            w.WriteNumber("total_tokens", usage.TotalTokens);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "stream {Id} failed after it started")]
    private static partial void LogStreamFailure(ILogger logger, string id, Exception exception);
}
