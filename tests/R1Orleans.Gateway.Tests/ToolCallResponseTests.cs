using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway.Ranks;
using R1Orleans.TestSupport;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Gateway.Tests;

/// <summary>
/// Tool calls in the answer (DeepSeek's markup) become OpenAI <c>tool_calls</c>. The responder is driven with the events
/// the engine would stream, since no model here is trained to call tools.
/// </summary>
public sealed class ToolCallResponseTests
{
    private static readonly R1Tokenizer s_tokenizer = R1Tokenizer.Load(Path.Combine(GoldenDirectory.Case("tokenizer-bpe"), "tokenizer.json"));

    // The answer after </think>, cut where a detokenizer might cut it: inside the opening marker and inside the arguments.
    private static readonly string[] s_answer =
    [
        "\n\nLet me check",
        " the weather.<｜tool",
        "▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": ",
        "\"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    ];

    [Fact]
    public async Task A_non_streamed_answer_with_tool_markup_has_tool_calls_and_finish_reason_tool_calls()
    {
        using JsonDocument doc = JsonDocument.Parse(await RespondAsync(stream: false, parsesToolCalls: true));
        JsonElement choice = doc.RootElement.GetProperty("choices")[0];
        JsonElement message = choice.GetProperty("message");
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("\n\nLet me check the weather.", message.GetProperty("content").GetString());
        Assert.Equal("I should call a tool.", message.GetProperty("reasoning_content").GetString());
        JsonElement call = Assert.Single(message.GetProperty("tool_calls").EnumerateArray());
        Assert.StartsWith("call_", call.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("{\"city\": \"Paris\"}", call.GetProperty("function").GetProperty("arguments").GetString());
    }

    [Fact]
    public async Task A_streamed_answer_sends_the_content_without_markup_then_the_tool_calls_then_the_finish()
    {
        string sse = await RespondAsync(stream: true, parsesToolCalls: true);
        Assert.DoesNotContain("tool▁", sse, StringComparison.Ordinal);
        List<JsonElement> chunks = [.. sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..]).TakeWhile(d => d != "[DONE]").Select(d => JsonDocument.Parse(d).RootElement.GetProperty("choices")[0])];
        Assert.EndsWith("data: [DONE]\n\n", sse, StringComparison.Ordinal);

        string content = string.Concat(chunks.Select(c => c.GetProperty("delta").TryGetProperty("content", out JsonElement t) ? t.GetString() : ""));
        Assert.Equal("\n\nLet me check the weather.", content);
        int callsAt = chunks.FindIndex(c => c.GetProperty("delta").TryGetProperty("tool_calls", out _));
        Assert.Equal(chunks.Count - 2, callsAt);
        JsonElement call = Assert.Single(chunks[callsAt].GetProperty("delta").GetProperty("tool_calls").EnumerateArray());
        Assert.Equal(0, call.GetProperty("index").GetInt32());
        Assert.StartsWith("call_", call.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("{\"city\": \"Paris\"}", call.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool_calls", chunks[^1].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Without_tools_in_the_request_the_markup_stays_in_the_content()
    {
        using JsonDocument doc = JsonDocument.Parse(await RespondAsync(stream: false, parsesToolCalls: false));
        JsonElement choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(string.Concat(s_answer), choice.GetProperty("message").GetProperty("content").GetString());
        Assert.False(choice.GetProperty("message").TryGetProperty("tool_calls", out _));
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", false)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}""", true)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto"}""", true)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}""", false)]
    public void Tool_calls_are_parsed_when_the_request_offers_tools_and_does_not_forbid_them(string body, bool parses)
    {
        using JsonDocument doc = JsonDocument.Parse(body);
        Assert.Equal(parses, OpenAiRequests.ParseChat(doc.RootElement).ParsesToolCalls);
    }

    private static async Task<string> RespondAsync(bool stream, bool parsesToolCalls)
    {
        SamplingParams sampling = SamplingParams.Greedy(64);
        var spec = new GenerationSpec
        {
            Chat = true,
            Input = PromptInput.FromText("unused"),
            PromptParam = "messages",
            Sampling = sampling,
            Stream = stream,
            ParsesToolCalls = parsesToolCalls,
        };
        var plan = new GenerationPlan(new EncodedPrompt([1, 2, 3], true, true), 3, [sampling], new NoRank());
        var http = new DefaultHttpContext();
        using var body = new MemoryStream();
        http.Response.Body = body;
        var responder = new GenerationResponder(http, new ChatFormat(s_tokenizer), spec, plan, new ServedModelInfo("m", "test", "a test", DateTimeOffset.UnixEpoch), new GatewayOptions(), NullLogger.Instance);

        var events = Channel.CreateUnbounded<ChoiceEvent>();
        int token = 10;
        events.Writer.TryWrite(new ChoiceEvent(0, new TextEvent(token++, "I should call a tool.", "I should call a tool.", "", null, null, null, new Usage(3, 1)), null));
        events.Writer.TryWrite(new ChoiceEvent(0, new TextEvent(token++, "</think>", "", "", null, null, null, new Usage(3, 2)), null));
        for (int i = 0; i < s_answer.Length; i++)
        {
            FinishReason? finish = i == s_answer.Length - 1 ? FinishReason.Stop : null;
            events.Writer.TryWrite(new ChoiceEvent(0, new TextEvent(token++, s_answer[i], "", s_answer[i], null, null, finish, new Usage(3, 3 + i)), null));
        }

        events.Writer.Complete();
        await responder.RespondAsync(events.Reader);
        return Encoding.UTF8.GetString(body.ToArray());
    }

    /// <summary>The responder is fed events directly here; nothing runs on a rank.</summary>
    private sealed class NoRank : IRank
    {
        public string Name => "none";

        public IAsyncEnumerable<TextEvent> GenerateAsync(EncodedPrompt prompt, SamplingParams sampling, CancellationToken cancellation) =>
            throw new InvalidOperationException("the responder test runs no rank");

        public IAsyncEnumerable<TextEvent> ResumeAsync(EncodedPrompt prompt, RequestState state, CancellationToken cancellation) =>
            throw new InvalidOperationException("the responder test runs no rank");
    }
}
