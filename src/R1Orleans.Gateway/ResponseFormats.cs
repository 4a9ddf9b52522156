using System.Text;
using R1Orleans.Text.Tools;
using System.Text.Json;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Gateway;

/// <summary>A generated token's logprob and alternatives, kept until its choice or chunk is written.</summary>
internal readonly record struct LogprobEntry(int Token, float Logprob, IReadOnlyList<TokenLogprob> Top);

/// <summary>One choice's output so far.</summary>
internal sealed class ChoiceState(int index)
{
    public int Index { get; } = index;

    public StringBuilder Text { get; } = new();

    public StringBuilder Reasoning { get; } = new();

    public StringBuilder Content { get; } = new();

    /// <summary>Every token's logprob (non-streaming) or those not yet sent (streaming).</summary>
    public List<LogprobEntry> Logprobs { get; } = [];

    /// <summary>Characters of text already sent (the legacy text_offset).</summary>
    public int TextOffset { get; set; }

    public FinishReason? Finish { get; set; }

    public string? Error { get; set; }

    public Usage? Usage { get; set; }

    /// <summary>Set for chat requests with tools: holds tool-call markup back from the streamed content.</summary>
    public ToolCallStreamFilter? ToolFilter { get; init; }

    /// <summary>The tool calls of the finished answer, each with the id the response gives it.</summary>
    public IReadOnlyList<(string Id, ToolCallText Call)> ToolCalls { get; set; } = [];

    /// <summary>finish_reason: "tool_calls" when the answer stopped after calling tools.</summary>
    public string FinishLabel => ToolCalls.Count > 0 && Finish == FinishReason.Stop ? "tool_calls" : FinishName(Finish!.Value);

    public static string FinishName(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Abort => "abort",
        _ => "error",
    };
}

/// <summary>The shape of one endpoint's responses: chat.completion(.chunk) or text_completion.</summary>
internal abstract class ResponseFormat(R1Tokenizer tokenizer)
{
    public abstract string Object { get; }

    public abstract string ChunkObject { get; }

    public abstract string IdPrefix { get; }

    /// <summary>Whether a stream opens each choice with a chunk of its own (chat's role chunk).</summary>
    public abstract bool HasStartChunk { get; }

    public abstract void WriteStartChoice(Utf8JsonWriter w, int index);

    /// <summary>A streamed piece; <paramref name="logprobs"/> are the tokens it carries (maybe none).</summary>
    public abstract void WriteDeltaChoice(Utf8JsonWriter w, ChoiceState c, string reasoning, string content, string text, IReadOnlyList<LogprobEntry>? logprobs);

    public abstract void WriteFinishChoice(Utf8JsonWriter w, int index, string finishReason);

    public abstract void WriteChoice(Utf8JsonWriter w, ChoiceState c, bool logprobs);

    protected string TokenString(int id) => tokenizer.Decode([id], skipSpecialTokens: false);

    protected void WriteBytes(Utf8JsonWriter w, int id)
    {
        w.WriteStartArray("bytes");
        ReadOnlyMemory<byte>? raw = tokenizer.TokenBytes(id);
        byte[] bytes = raw is { } r ? r.ToArray() : Encoding.UTF8.GetBytes(tokenizer.TokenText(id) ?? "");
        foreach (byte b in bytes)
        {
            w.WriteNumberValue(b);
        }

        w.WriteEndArray();
    }

    /// <summary>JSON has no infinities; vLLM's stand-in for an impossible token.</summary>
    protected static double Finite(float logprob) => float.IsFinite(logprob) ? logprob : -9999.0;
}

internal sealed class ChatFormat(R1Tokenizer tokenizer) : ResponseFormat(tokenizer)
{
    public override string Object => "chat.completion";

    public override string ChunkObject => "chat.completion.chunk";

    public override string IdPrefix => "chatcmpl-";

    public override bool HasStartChunk => true;

    public override void WriteStartChoice(Utf8JsonWriter w, int index)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        w.WriteString("role", "assistant");
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
    }

    public override void WriteDeltaChoice(Utf8JsonWriter w, ChoiceState c, string reasoning, string content, string text, IReadOnlyList<LogprobEntry>? logprobs)
    {
        w.WriteStartObject();
        w.WriteNumber("index", c.Index);
        w.WriteStartObject("delta");
        if (reasoning.Length > 0)
        {
            w.WriteString("reasoning_content", reasoning);
        }

        if (content.Length > 0 || reasoning.Length == 0)
        {
            w.WriteString("content", content);
        }

        w.WriteEndObject();
        WriteLogprobs(w, logprobs);
        w.WriteNull("finish_reason");
        w.WriteEndObject();
    }

    public override void WriteFinishChoice(Utf8JsonWriter w, int index, string finishReason)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
    }

    public override void WriteChoice(Utf8JsonWriter w, ChoiceState c, bool logprobs)
    {
        w.WriteStartObject();
        w.WriteNumber("index", c.Index);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        string content = c.Content.ToString();
        if (c.ToolCalls.Count > 0 && string.IsNullOrWhiteSpace(content))
        {
            w.WriteNull("content");
        }
        else
        {
            w.WriteString("content", content);
        }

        if (c.ToolCalls.Count > 0)
        {
            WriteToolCalls(w, c, withIndex: false);
        }

        if (c.Reasoning.Length > 0)
        {
            w.WriteString("reasoning_content", c.Reasoning.ToString());
        }
        else
        {
            w.WriteNull("reasoning_content");
        }

        w.WriteEndObject();
        WriteLogprobs(w, logprobs ? c.Logprobs : null);
        w.WriteString("finish_reason", c.FinishLabel);
        w.WriteEndObject();
    }

    /// <summary>A stream chunk carrying every tool call of a finished choice (each whole, as vLLM sends a finished call).</summary>
    public void WriteToolCallsDelta(Utf8JsonWriter w, ChoiceState c)
    {
        w.WriteStartObject();
        w.WriteNumber("index", c.Index);
        w.WriteStartObject("delta");
        WriteToolCalls(w, c, withIndex: true);
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
    }

    private static void WriteToolCalls(Utf8JsonWriter w, ChoiceState c, bool withIndex)
    {
        w.WriteStartArray("tool_calls");
        for (int i = 0; i < c.ToolCalls.Count; i++)
        {
            (string id, ToolCallText call) = c.ToolCalls[i];
            w.WriteStartObject();
            if (withIndex)
            {
                w.WriteNumber("index", i);
            }

            w.WriteString("id", id);
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", call.Name);
            w.WriteString("arguments", call.Arguments);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private void WriteLogprobs(Utf8JsonWriter w, IReadOnlyList<LogprobEntry>? logprobs)
    {
        if (logprobs is null)
        {
            w.WriteNull("logprobs");
            return;
        }

        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        foreach (LogprobEntry e in logprobs)
        {
            w.WriteStartObject();
            WriteToken(w, e.Token, e.Logprob);
            w.WriteStartArray("top_logprobs");
            foreach (TokenLogprob t in e.Top)
            {
                w.WriteStartObject();
                WriteToken(w, t.Token, t.Logprob);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNull("refusal");
        w.WriteEndObject();
    }

    private void WriteToken(Utf8JsonWriter w, int token, float logprob)
    {
        w.WriteString("token", TokenString(token));
        w.WriteNumber("logprob", Finite(logprob));
        WriteBytes(w, token);
    }
}

internal sealed class CompletionFormat(R1Tokenizer tokenizer) : ResponseFormat(tokenizer)
{
    public override string Object => "text_completion";

    public override string ChunkObject => "text_completion";

    public override string IdPrefix => "cmpl-";

    public override bool HasStartChunk => false;

    public override void WriteStartChoice(Utf8JsonWriter w, int index) => throw new NotSupportedException();

    public override void WriteDeltaChoice(Utf8JsonWriter w, ChoiceState c, string reasoning, string content, string text, IReadOnlyList<LogprobEntry>? logprobs)
    {
        w.WriteStartObject();
        w.WriteNumber("index", c.Index);
        w.WriteString("text", text);
        WriteLogprobs(w, c, logprobs);
        w.WriteNull("finish_reason");
        w.WriteEndObject();
    }

    public override void WriteFinishChoice(Utf8JsonWriter w, int index, string finishReason)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteString("text", "");
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
    }

    public override void WriteChoice(Utf8JsonWriter w, ChoiceState c, bool logprobs)
    {
        w.WriteStartObject();
        w.WriteNumber("index", c.Index);
        w.WriteString("text", c.Text.ToString());
        WriteLogprobs(w, c, logprobs ? c.Logprobs : null);
        w.WriteString("finish_reason", ChoiceState.FinishName(c.Finish!.Value));
        w.WriteEndObject();
    }

    /// <summary>The legacy shape: parallel arrays of tokens, their logprobs, the top alternatives and text offsets.</summary>
    private void WriteLogprobs(Utf8JsonWriter w, ChoiceState c, IReadOnlyList<LogprobEntry>? logprobs)
    {
        if (logprobs is null)
        {
            w.WriteNull("logprobs");
            return;
        }

        string[] texts = [.. logprobs.Select(e => TokenString(e.Token))];
        w.WriteStartObject("logprobs");
        w.WriteStartArray("tokens");
        foreach (string t in texts)
        {
            w.WriteStringValue(t);
        }

        w.WriteEndArray();
        w.WriteStartArray("token_logprobs");
        foreach (LogprobEntry e in logprobs)
        {
            w.WriteNumberValue(Finite(e.Logprob));
        }

        w.WriteEndArray();
        w.WriteStartArray("top_logprobs");
        foreach (LogprobEntry e in logprobs)
        {
            if (e.Top.Count == 0)
            {
                w.WriteNullValue();
                continue;
            }

            w.WriteStartObject();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (TokenLogprob t in e.Top)
            {
                string s = TokenString(t.Token);
                if (seen.Add(s))
                {
                    w.WriteNumber(s, Finite(t.Logprob));
                }
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("text_offset");
        foreach (string t in texts)
        {
            w.WriteNumberValue(c.TextOffset);
            c.TextOffset += t.Length;
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }
}
