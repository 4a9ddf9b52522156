using System.Text.Json;
using System.Text.Json.Nodes;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

public class ChatCommandTests
{
    private static readonly FakeBehavior s_fast = new() { FirstChunkDelay = TimeSpan.Zero, ChunkDelay = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public async Task PipedStdinIsOneMessageAnswerOnStdoutReasoningOnStderr()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(s_fast);
        var output = new StringWriter();
        var error = new StringWriter();
        var settings = new ChatSettings { Url = server.Url, System = "be brief", Temperature = 0.6, MaxTokens = 50, Seed = 9 };
        int rc = await ChatCommand.RunAsync(settings, new StringReader("line one\nline two\n"), interactive: false, output, error, ansi: false);

        Assert.Equal(0, rc);
        Assert.Equal("Hello, world!\n", output.ToString());
        Assert.Equal("Let me think.\n", error.ToString());
        JsonObject body = Assert.Single(server.Requests).Body;
        Assert.Equal("fake-r1", body["model"]!.GetValue<string>());
        Assert.Equal(0.6, body["temperature"]!.GetValue<double>());
        Assert.Equal(50, body["max_tokens"]!.GetValue<int>());
        Assert.Equal(9, body["seed"]!.GetValue<int>());
        Assert.Null(body["ignore_eos"]);
        JsonArray messages = body["messages"]!.AsArray();
        Assert.Equal(("system", "be brief"), (messages[0]!["role"]!.GetValue<string>(), messages[0]!["content"]!.GetValue<string>()));
        Assert.Equal(("user", "line one\nline two"), (messages[1]!["role"]!.GetValue<string>(), messages[1]!["content"]!.GetValue<string>()));
    }

    [Fact]
    public async Task InteractiveChatKeepsHistoryResetsAndExits()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(s_fast);
        var output = new StringWriter();
        var error = new StringWriter();
        var settings = new ChatSettings { Url = server.Url, Model = "chosen" };
        string input = "first\n\nsecond \\\ncontinued\n/reset\nthird\n/exit\nnever sent\n";
        int rc = await ChatCommand.RunAsync(settings, new StringReader(input), interactive: true, output, error, ansi: true);

        Assert.Equal(0, rc);
        Assert.Equal("", error.ToString());
        JsonArray[] sent = server.Requests.Select(r => r.Body["messages"]!.AsArray()).ToArray();
        Assert.Equal([1, 3, 1], sent.Select(m => m.Count));
        Assert.Equal("second \ncontinued", sent[1][2]!["content"]!.GetValue<string>());
        Assert.Equal("Hello, world!", sent[1][1]!["content"]!.GetValue<string>());
        Assert.Equal("assistant", sent[1][1]!["role"]!.GetValue<string>());
        Assert.Equal("third", sent[2][0]!["content"]!.GetValue<string>());
        Assert.All(server.Requests, r => Assert.Equal("chosen", r.Body["model"]!.GetValue<string>()));

        // On a terminal the reasoning is dimmed inline, then reset before the answer.
        string text = output.ToString();
        Assert.Contains(ReplyRenderer.Dim + "Let me think." + ReplyRenderer.Reset + "\n\nHello, world!\n", text, StringComparison.Ordinal);
        Assert.Contains("(conversation forgotten)", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedTurnIsReportedAndNotKept()
    {
        // The first POST ends in an error event, the second in HTTP 500, the third succeeds.
        var behavior = s_fast with { FailureFor = n => n switch { 1 => FakeFailure.ErrorEvent, 2 => FakeFailure.Http500, _ => FakeFailure.None } };
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(behavior);
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = await ChatCommand.RunAsync(new ChatSettings { Url = server.Url }, new StringReader("a\nb\nc\n"), interactive: true, output, error, ansi: false);

        Assert.Equal(0, rc);
        Assert.Contains("error: boom (server_error)", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("error: HTTP 500 Internal Server Error: overloaded", error.ToString(), StringComparison.Ordinal);
        Assert.Equal([1, 1, 1], server.Requests.Select(r => r.Body["messages"]!.AsArray().Count));
    }

    [Fact]
    public async Task NonStreamingAndHiddenReasoning()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(s_fast);
        var output = new StringWriter();
        var error = new StringWriter();
        var settings = new ChatSettings { Url = server.Url, Stream = false, ShowReasoning = false };
        int rc = await ChatCommand.RunAsync(settings, new StringReader("hi"), interactive: false, output, error, ansi: false);

        Assert.Equal(0, rc);
        Assert.Equal("Hello, world!\n", output.ToString());
        Assert.Equal("", error.ToString());
        JsonObject body = Assert.Single(server.Requests).Body;
        Assert.False(body["stream"]!.GetValue<bool>());
        Assert.Null(body["stream_options"]);
    }

    [Fact]
    public async Task CompleteStreamsACompletion()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(s_fast);
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = await CompleteCommand.RunAsync(new ChatSettings { Url = server.Url, MaxTokens = 5 }, "Once upon a time", chat: false, output, error, ansi: false);

        Assert.Equal(0, rc);
        Assert.Equal("Let me think.Hello, world!\n", output.ToString());
        (string path, JsonObject body, _) = Assert.Single(server.Requests);
        Assert.Equal("/v1/completions", path);
        Assert.Equal("Once upon a time", body["prompt"]!.GetValue<string>());
    }

    [Fact]
    public async Task CompleteFromTheCommandLineDefaultsToTheChatEndpointWithRoomForReasoning()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(s_fast);
        int rc = await CompleteCommand.Create().Parse(["--prompt", "What is 12 * 34?", "--url", server.Url, "--no-stream"]).InvokeAsync();

        Assert.Equal(0, rc);
        (string path, JsonObject body, _) = Assert.Single(server.Requests);
        Assert.Equal("/v1/chat/completions", path);
        Assert.Equal("What is 12 * 34?", body["messages"]![0]!["content"]!.GetValue<string>());
        Assert.Equal(ChatSettings.DefaultMaxTokens, body["max_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task CompleteWithTheCompletionsEndpointSendsRawText()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(s_fast);
        int rc = await CompleteCommand.Create().Parse(["--prompt", "Once upon a time", "--url", server.Url, "--endpoint", "completions", "--max-tokens", "7"]).InvokeAsync();

        Assert.Equal(0, rc);
        (string path, JsonObject body, _) = Assert.Single(server.Requests);
        Assert.Equal("/v1/completions", path);
        Assert.Equal(7, body["max_tokens"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("--num-requests", "c")]
    [InlineData("--concurrency", "x")]
    [InlineData("--timeout", "soon")]
    public async Task ABenchOptionThatIsNotANumberIsAParseErrorNotACrash(string option, string value)
    {
        int rc = await BenchCommand.Create().Parse([option, value]).InvokeAsync();
        Assert.NotEqual(0, rc);
    }

    [Fact]
    public void ClusterStatusAndExpertsRenderTheSilosJson()
    {
        using JsonDocument status = JsonDocument.Parse("""
            {"modelHash":"ab","version":3,"epoch":4,"pendingVersion":null,"expertsCovered":true,"thisSiloVersion":3,
             "silos":[{"silo":"127.0.0.1:1@1","node":"a","expertsPlaced":32,"thisSilo":true,
                        "rank":{"running":2,"waiting":1,"finished":9,"generatedTokens":50,"dispatchSentMessages":4,"dispatchSentBytes":4096,"dispatchReceivedMessages":4,"dispatchReceivedBytes":4096,"tokensRunByHolder":12,"expertsHeld":32,"placementVersion":3}},
                       {"silo":"127.0.0.1:2@1","node":"b","expertsPlaced":16,"thisSilo":false,"rank":null}],
             "thisSiloExchange":{"sentMessages":10,"sentBytes":5000,"receivedMessages":10,"receivedBytes":5000,"meanReplyMicroseconds":812.4,"nodeLimitViolations":0,"tokensRunHere":77}}
            """);
        var text = new StringWriter();
        ClusterCommand.RenderStatus(status.RootElement, text);
        string s = text.ToString();
        Assert.Contains("placement v3 (epoch 4); experts covered: yes", s, StringComparison.Ordinal);
        Assert.Matches(@"127\.0\.0\.1:1@1\s+a\s+32\s+2\s+1\s+9\s+4096 B\s+\(this silo\)", s);
        Assert.Matches(@"127\.0\.0\.1:2@1\s+b\s+16\s+\?\s+\?\s+\?\s+\?", s);
        Assert.Contains("10 requests to other silos, 5000 bytes, mean reply 812 µs", s, StringComparison.Ordinal);

        using JsonDocument experts = JsonDocument.Parse("""
            {"version":3,"epoch":4,"layers":[{"layer":1,"experts":[{"expert":0,"holders":["s1","s2"],"tokensRoutedHere":5,"tokensByReplica":[3,2]},{"expert":1,"holders":["s2"],"tokensRoutedHere":0,"tokensByReplica":[0]}]}]}
            """);
        text = new StringWriter();
        ClusterCommand.RenderExperts(experts.RootElement, text);
        string[] lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("placement v3 (epoch 4)", lines[0]);
        Assert.Equal("1      0       s1 s2                      5              3/2", lines[3].TrimEnd());
        Assert.Equal(5, lines.Length);
    }

    [Fact]
    public async Task ModelsListsTheServersModels()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync();
        var output = new StringWriter();
        int rc = await ModelsCommand.RunAsync(server.Url, null, json: false, output, new StringWriter());
        Assert.Equal(0, rc);
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("fake-r1", lines[2], StringComparison.Ordinal);
        Assert.Contains("2023-11-14", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("other-model", lines[3], StringComparison.Ordinal);

        var json = new StringWriter();
        Assert.Equal(0, await ModelsCommand.RunAsync(server.Url, null, json: true, json, new StringWriter()));
        Assert.Equal(FakeOpenAiServer.ModelsJson, json.ToString().Trim());
    }

    [Fact]
    public async Task AnUnreachableServerIsOneErrorLine()
    {
        var error = new StringWriter();
        int rc = await ModelsCommand.RunAsync("http://127.0.0.1:1", null, json: false, new StringWriter(), error);
        Assert.Equal(1, rc);
        Assert.StartsWith("error: http://127.0.0.1:1/v1/models: ", error.ToString(), StringComparison.Ordinal);
    }
}
