using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

public class OpenAiClientTests
{
    [Theory]
    [InlineData("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/")]
    [InlineData("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1/")]
    [InlineData("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/")]
    [InlineData("https://host/openai/v1/", "https://host/openai/v1/")]
    [InlineData("https://host/proxy", "https://host/proxy/v1/")]
    public void BaseUriEndsInV1(string url, string expected) => Assert.Equal(expected, OpenAiClient.NormalizeBaseUri(url).ToString());

    [Theory]
    [InlineData("localhost:8000")]
    [InlineData("ftp://host")]
    [InlineData("not a url")]
    public void NonHttpUrlsAreRejected(string url) => Assert.Throws<ArgumentException>(() => OpenAiClient.NormalizeBaseUri(url));

    [Fact]
    public void ExplicitApiKeyWins() => Assert.Equal("k", OpenAiClient.ResolveApiKey(" k "));

    [Fact]
    public void RequestBodiesCarryOnlyTheGivenOptions()
    {
        var minimal = new GenerationOptions { Model = "m", Stream = false };
        Assert.Equal("""{"model":"m","stream":false,"prompt":"p"}""", OpenAiClient.CompletionRequest("p", minimal).ToJsonString());
        var full = new GenerationOptions { Model = "m", Temperature = 0.5, MaxTokens = 8, Seed = 3, IgnoreEos = true };
        Assert.Equal(
            """{"model":"m","stream":true,"stream_options":{"include_usage":true},"temperature":0.5,"max_tokens":8,"seed":3,"ignore_eos":true,"messages":[{"role":"user","content":"hi"}]}""",
            OpenAiClient.ChatRequest([new ChatMessage("user", "hi")], full).ToJsonString());
    }

    [Fact]
    public void ModelsJsonIsParsed()
    {
        IReadOnlyList<ModelInfo> models = OpenAiClient.ParseModels(FakeOpenAiServer.ModelsJson);
        Assert.Equal([new ModelInfo("fake-r1", "tests", 1700000000), new ModelInfo("other-model", null, null)], models);
        Assert.Throws<OpenAiException>(() => OpenAiClient.ParseModels("{}"));
        Assert.Throws<OpenAiException>(() => OpenAiClient.ParseModels("<html>"));
    }

    [Fact]
    public void RendererWithoutTerminalSendsReasoningElsewhere()
    {
        var output = new StringWriter();
        var reasoning = new StringWriter();
        var r = new ReplyRenderer(output, reasoning, ansi: false);
        r.Reasoning("think");
        r.Reasoning("ing");
        r.Content("answer");
        r.End();
        Assert.Equal("answer\n", output.ToString());
        Assert.Equal("thinking\n", reasoning.ToString());
    }
}
