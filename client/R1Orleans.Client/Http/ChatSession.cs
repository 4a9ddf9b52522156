using System.Diagnostics;
using System.Text;

namespace R1Orleans.Client.Http;

/// <summary>One assistant reply: its text, its reasoning, token counts and timing.</summary>
public sealed record ChatReply(string Content, string Reasoning, string? FinishReason, TokenUsage? Usage, int TextChunks, double Seconds, double? TtftSeconds)
{
    /// <summary>Output tokens: the server's count, else the text-carrying chunks.</summary>
    public int OutputTokens => Usage?.CompletionTokens ?? TextChunks;
}

/// <summary>
/// A conversation with an OpenAI-compatible chat endpoint: keeps the history (an optional system message, then user and
/// assistant turns; reasoning is shown but not sent back, as DeepSeek-R1 expects), streams or fetches each reply.
/// </summary>
public sealed class ChatSession(OpenAiClient client, GenerationOptions options, string? system = null)
{
    private readonly List<ChatMessage> _history = system is null ? [] : [new ChatMessage("system", system)];

    public IReadOnlyList<ChatMessage> History => _history;

    public GenerationOptions Options => options;

    /// <summary>Forgets the conversation (keeps the system message).</summary>
    public void Reset() => _history.RemoveAll(m => m.Role != "system");

    /// <summary>Sends a user message and renders the reply; the turn joins the history only when the reply completes.</summary>
    public async Task<ChatReply> SendAsync(string user, ReplyRenderer renderer, CancellationToken cancellationToken = default)
    {
        List<ChatMessage> messages = [.. _history, new ChatMessage("user", user)];
        ChatReply reply = await GenerateAsync(client, "chat/completions", OpenAiClient.ChatRequest(messages, options), options.Stream, renderer, cancellationToken).ConfigureAwait(false);
        _history.Add(new ChatMessage("user", user));
        _history.Add(new ChatMessage("assistant", reply.Content));
        return reply;
    }

    /// <summary>Posts one request (streamed or not) and renders what comes back; an error event or HTTP error throws <see cref="OpenAiException"/>.</summary>
    public static async Task<ChatReply> GenerateAsync(OpenAiClient client, string path, System.Text.Json.Nodes.JsonObject body, bool stream, ReplyRenderer renderer, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        var content = new StringBuilder();
        var reasoning = new StringBuilder();
        string? finish = null;
        TokenUsage? usage = null;
        int chunks = 0;
        double? ttft = null;
        try
        {
            if (!stream)
            {
                CompletionChunk answer = await client.PostAsync(path, body, cancellationToken).ConfigureAwait(false);
                Take(answer);
            }
            else
            {
                await foreach (CompletionChunk chunk in client.StreamAsync(path, body, cancellationToken).ConfigureAwait(false))
                {
                    if (chunk.Error is not null)
                    {
                        throw new OpenAiException(chunk.Error);
                    }

                    if (chunk.IsDone)
                    {
                        break;
                    }

                    Take(chunk);
                }
            }
        }
        finally
        {
            renderer.End();
        }

        return new ChatReply(content.ToString(), reasoning.ToString(), finish, usage, chunks, Stopwatch.GetElapsedTime(start).TotalSeconds, ttft);

        void Take(CompletionChunk chunk)
        {
            if (chunk.HasText)
            {
                chunks++;
                ttft ??= Stopwatch.GetElapsedTime(start).TotalSeconds;
            }

            renderer.Reasoning(chunk.Reasoning);
            renderer.Content(chunk.Content);
            reasoning.Append(chunk.Reasoning);
            content.Append(chunk.Content);
            finish = chunk.FinishReason ?? finish;
            usage = chunk.Usage ?? usage;
        }
    }
}
