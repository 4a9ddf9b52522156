using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

public class CompletionChunkParserTests
{
    private static CompletionChunk Parse(string data, string type = "message") => CompletionChunkParser.Parse(new SseEvent(type, data, null));

    [Theory]
    [InlineData("[DONE]")]
    [InlineData(" [DONE] ")]
    public void DoneSentinel(string data) => Assert.True(Parse(data).IsDone);

    [Fact]
    public void ChatDeltaWithContentAndReasoning()
    {
        CompletionChunk c = Parse("""{"choices":[{"index":0,"delta":{"reasoning_content":"hmm","content":"hi"},"finish_reason":null}]}""");
        Assert.Equal("hi", c.Content);
        Assert.Equal("hmm", c.Reasoning);
        Assert.Null(c.FinishReason);
        Assert.True(c.HasText);
        Assert.Null(c.Error);
    }

    [Fact]
    public void ChatLogprobsGiveTheTokensOfTheChunk()
    {
        CompletionChunk c = Parse("""{"choices":[{"delta":{"content":"ab"},"logprobs":{"content":[{"token":"a","logprob":-0.5,"bytes":[97],"top_logprobs":[]},{"token":"b","logprob":0,"bytes":[98],"top_logprobs":[]}],"refusal":null}}]}""");
        Assert.Equal([new StreamedToken("a", -0.5), new StreamedToken("b", 0)], c.Tokens!);
        Assert.Null(Parse("""{"choices":[{"delta":{"content":"ab"},"logprobs":null}]}""").Tokens);
    }

    [Fact]
    public void ReasoningFieldOfOtherServers() =>
        Assert.Equal("r", Parse("""{"choices":[{"delta":{"reasoning":"r"}}]}""").Reasoning);

    [Fact]
    public void CompletionsTextAndFinishReason()
    {
        CompletionChunk c = Parse("""{"choices":[{"index":0,"text":" there","finish_reason":"length"}]}""");
        Assert.Equal(" there", c.Content);
        Assert.Equal("length", c.FinishReason);
    }

    [Fact]
    public void UsageChunkWithoutChoices()
    {
        CompletionChunk c = Parse("""{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}}""");
        Assert.Equal(new TokenUsage(12, 34), c.Usage);
        Assert.False(c.HasText);
    }

    [Fact]
    public void WholeNonStreamedResponse()
    {
        CompletionChunk c = CompletionChunkParser.ParseJson("""{"choices":[{"message":{"role":"assistant","content":"A","reasoning_content":"R"},"finish_reason":"stop"}]}""");
        Assert.Equal(("A", "R", "stop"), (c.Content, c.Reasoning, c.FinishReason));
    }

    [Theory]
    [InlineData("""{"error":{"message":"boom","type":"server_error","code":500}}""", "message", "boom (server_error)")]
    [InlineData("""{"error":"plain"}""", "message", "plain")]
    [InlineData("""{"detail":"x"}""", "error", """{"detail":"x"}""")]
    [InlineData("not json", "message", "not JSON: not json")]
    [InlineData("[1]", "message", "not a JSON object: [1]")]
    public void ErrorEvents(string data, string type, string message) => Assert.Equal(message, Parse(data, type).Error);
}
