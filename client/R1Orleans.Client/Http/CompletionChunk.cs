using System.Text.Json;

namespace R1Orleans.Client.Http;

/// <summary>One generated token as <c>logprobs.content</c> reports it (asked with <c>"logprobs": true</c>): its text and logprob.</summary>
public sealed record StreamedToken(string Text, double Logprob);

/// <summary>Token counts a server reported (<c>usage</c>).</summary>
public sealed record TokenUsage(int? PromptTokens, int? CompletionTokens);

/// <summary>
/// What one server-sent event of an OpenAI-compatible stream carries: content and reasoning deltas of the first choice
/// (chat <c>delta.content</c> / <c>delta.reasoning_content</c>, or <c>text</c> of the completions API), finish reason,
/// usage, the <c>[DONE]</c> sentinel, or an error. Non-streamed responses use the same shape (from <c>message</c>).
/// </summary>
public sealed record CompletionChunk
{
    public string? Content { get; init; }

    /// <summary><c>reasoning_content</c> (DeepSeek, vLLM, SGLang) or <c>reasoning</c> (some other servers).</summary>
    public string? Reasoning { get; init; }

    public string? FinishReason { get; init; }

    public TokenUsage? Usage { get; init; }

    /// <summary>The tokens this chunk carries (chat <c>logprobs.content</c>), when the request asked for logprobs; else null.</summary>
    public IReadOnlyList<StreamedToken>? Tokens { get; init; }

    /// <summary>An error event (<c>{"error": ...}</c>, an <c>event: error</c>, or data that is not JSON); the message.</summary>
    public string? Error { get; init; }

    /// <summary>The <c>data: [DONE]</c> sentinel.</summary>
    public bool IsDone { get; init; }

    /// <summary>Whether this chunk carries generated text (content or reasoning): what TTFT and inter-token gaps are measured on.</summary>
    public bool HasText => !string.IsNullOrEmpty(Content) || !string.IsNullOrEmpty(Reasoning);

    public static readonly CompletionChunk Done = new() { IsDone = true };
}

/// <summary>Turns server-sent events and JSON bodies of the OpenAI API into <see cref="CompletionChunk"/>s.</summary>
public static class CompletionChunkParser
{
    public static CompletionChunk Parse(SseEvent e)
    {
        if (e.Data.AsSpan().Trim().SequenceEqual("[DONE]"))
        {
            return CompletionChunk.Done;
        }

        CompletionChunk chunk = ParseJson(e.Data);
        if (chunk.Error is null && string.Equals(e.EventType, "error", StringComparison.OrdinalIgnoreCase))
        {
            return new CompletionChunk { Error = string.IsNullOrWhiteSpace(e.Data) ? "error event" : e.Data.Trim() };
        }

        return chunk;
    }

    /// <summary>Parses one JSON object: a stream chunk, a whole (non-streamed) response, or an error body.</summary>
    public static CompletionChunk ParseJson(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return new CompletionChunk { Error = "not JSON: " + Truncate(json, 200) };
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new CompletionChunk { Error = "not a JSON object: " + Truncate(json, 200) };
            }

            if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind != JsonValueKind.Null)
            {
                return new CompletionChunk { Error = ErrorMessage(error) };
            }

            string? content = null, reasoning = null, finish = null;
            List<StreamedToken>? tokens = null;
            if (root.TryGetProperty("choices", out JsonElement choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
            {
                JsonElement choice = choices[0];
                if (choice.ValueKind == JsonValueKind.Object)
                {
                    JsonElement message = default;
                    bool hasMessage = (choice.TryGetProperty("delta", out message) || choice.TryGetProperty("message", out message)) && message.ValueKind == JsonValueKind.Object;
                    if (hasMessage)
                    {
                        content = String(message, "content");
                        reasoning = String(message, "reasoning_content") ?? String(message, "reasoning");
                    }

                    content ??= String(choice, "text");
                    finish = String(choice, "finish_reason");
                    tokens = LogprobTokens(choice);
                }
            }

            TokenUsage? usage = null;
            if (root.TryGetProperty("usage", out JsonElement u) && u.ValueKind == JsonValueKind.Object)
            {
                usage = new TokenUsage(Int(u, "prompt_tokens"), Int(u, "completion_tokens"));
            }

            return new CompletionChunk { Content = content, Reasoning = reasoning, FinishReason = finish, Usage = usage, Tokens = tokens };
        }
    }

    /// <summary>The human message of an OpenAI error value (<c>{"message": ...}</c>, a string, or anything else as JSON).</summary>
    public static string ErrorMessage(JsonElement error)
    {
        if (error.ValueKind == JsonValueKind.String)
        {
            return error.GetString() ?? "";
        }

        if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out JsonElement m) && m.ValueKind == JsonValueKind.String)
        {
            string message = m.GetString() ?? "";
            string? type = String(error, "type");
            return type is null || message.Contains(type, StringComparison.Ordinal) ? message : $"{message} ({type})";
        }

        return Truncate(error.GetRawText(), 200);
    }

    /// <summary>The chat format's <c>logprobs.content</c> entries of a choice (token and logprob), or null when it has none.</summary>
    private static List<StreamedToken>? LogprobTokens(JsonElement choice)
    {
        if (!choice.TryGetProperty("logprobs", out JsonElement logprobs) || logprobs.ValueKind != JsonValueKind.Object
            || !logprobs.TryGetProperty("content", out JsonElement entries) || entries.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var tokens = new List<StreamedToken>(entries.GetArrayLength());
        foreach (JsonElement e in entries.EnumerateArray())
        {
            double logprob = e.TryGetProperty("logprob", out JsonElement l) && l.ValueKind == JsonValueKind.Number ? l.GetDouble() : double.NaN;
            tokens.Add(new StreamedToken(String(e, "token") ?? "", logprob));
        }

        return tokens;
    }

    public static string Truncate(string s, int max) => s.Length <= max ? s : string.Concat(s.AsSpan(0, max), "…");

    private static string? String(JsonElement o, string name) =>
        o.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement o, string name) =>
        o.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : null;
}
