using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// Sends one workload request (chat, with <c>logprobs</c> so every token is seen) and records it: each token's arrival
/// time, how it ended, the text and tokens. It never throws for what the server does; past the bound it gives up (timeout).
/// An HTTP error status or an error body or event is an explicit error; a refused or reset connection or a cut stream is broken.
/// </summary>
public sealed class RequestRunner(string model, TimeSpan bound, Stopwatch clock)
{
    public async Task<RequestRecord> RunAsync(int id, string gateway, OpenAiClient client, RequestSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(spec);
        var options = new GenerationOptions { Model = model, Temperature = spec.Temperature, Seed = spec.Seed, MaxTokens = spec.MaxTokens, Stream = spec.Stream };
        JsonObject body = OpenAiClient.ChatRequest([new ChatMessage("user", spec.Prompt)], options);
        body["logprobs"] = true;
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        var tokens = new List<StreamedToken>();
        var times = new List<double>();
        string? finish = null;
        int? usage = null;
        double start = Now();
        RequestRecord Ended(RequestStatus status, string? error) => new()
        {
            Id = id,
            Gateway = gateway,
            Spec = spec,
            Start = start,
            End = Now(),
            TokenTimes = times,
            Status = status,
            Error = error,
            Reasoning = reasoning.ToString(),
            Content = content.ToString(),
            Tokens = tokens,
            FinishReason = finish,
            CompletionTokens = usage,
        };

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(bound);
        try
        {
            if (!spec.Stream)
            {
                CompletionChunk answer = await client.PostAsync("chat/completions", body, limit.Token).ConfigureAwait(false);
                reasoning.Append(answer.Reasoning);
                content.Append(answer.Content);
                tokens.AddRange(answer.Tokens ?? []);
                finish = answer.FinishReason;
                usage = answer.Usage?.CompletionTokens;
                return Ended(finish is null ? RequestStatus.Broken : RequestStatus.Completed, finish is null ? "the answer has no finish reason" : null);
            }

            bool done = false;
            await foreach (CompletionChunk chunk in client.StreamAsync("chat/completions", body, limit.Token).ConfigureAwait(false))
            {
                double now = Now();
                if (chunk.Error is not null)
                {
                    return Ended(RequestStatus.Error, chunk.Error);
                }

                reasoning.Append(chunk.Reasoning);
                content.Append(chunk.Content);
                foreach (StreamedToken t in chunk.Tokens ?? [])
                {
                    tokens.Add(t);
                    times.Add(now);
                }

                finish ??= chunk.FinishReason;
                usage = chunk.Usage?.CompletionTokens ?? usage;
                done |= chunk.IsDone;
            }

            return done && finish is not null ? Ended(RequestStatus.Completed, null)
                : Ended(RequestStatus.Broken, done ? "the stream ended without a finish reason" : "the stream ended without [DONE]");
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Ended(RequestStatus.Timeout, $"still running at the bound of {bound.TotalSeconds:0.###} s");
        }
        catch (OpenAiException e) when (e.Status is not null || e.InnerException is null)
        {
            return Ended(RequestStatus.Error, e.Message);
        }
        catch (Exception e) when (e is OpenAiException or HttpRequestException or IOException or System.Text.Json.JsonException)
        {
            return Ended(RequestStatus.Broken, e.Message);
        }
    }

    private double Now() => clock.Elapsed.TotalSeconds;
}
