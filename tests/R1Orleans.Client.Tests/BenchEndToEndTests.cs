using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

public class BenchEndToEndTests
{
    [Fact]
    public async Task ChatBenchCountsSuccessesFailuresTokensAndLatencies()
    {
        // POSTs 1-2 are the warmup; of the measured 3..14, 5 and 10 end in an error event, 7 and 14 get HTTP 500.
        var behavior = new FakeBehavior
        {
            FailureFor = n => n % 7 == 0 ? FakeFailure.Http500 : n % 5 == 0 ? FakeFailure.ErrorEvent : FakeFailure.None,
        };
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(behavior);
        using var client = new OpenAiClient(server.Url, "secret");
        var options = new BenchOptions { Model = "fake-r1", NumRequests = 12, Warmup = 2, Concurrency = 4, PromptTokens = 32, OutputTokens = 16, Seed = 1 };
        int progressed = 0;
        BenchReport report = await new BenchRunner(client, options).RunAsync(new SyncProgress<RequestResult>(_ => Interlocked.Increment(ref progressed)));

        Assert.Equal(14, server.Posts);
        Assert.Equal(12, progressed);
        Assert.Equal((12, 8, 4), (report.Requests, report.Completed, report.Failed));
        Assert.Equal(
            [new("HTTP 500 Internal Server Error: overloaded (server_error)", 2), new KeyValuePair<string, int>("error event: boom (server_error)", 2)],
            report.Failures);

        // Usage came from the server: 5 text chunks per reply, the prompt's 32 words.
        Assert.True(report.UsageReported);
        Assert.Equal(8 * behavior.TextChunks, report.OutputTokens);
        Assert.Equal(8 * 32, report.PromptTokens);

        // TTFT includes the server's 50 ms before the first chunk; ITL are the 20 ms gaps, 4 per reply.
        Assert.NotNull(report.TtftMs);
        Assert.Equal(8, report.TtftMs.Count);
        Assert.InRange(report.TtftMs.Min, 45, 5000);
        Assert.Equal(8 * 4, report.ItlMs!.Count);
        Assert.InRange(report.ItlMs.P50, 15, 1000);
        Assert.InRange(report.E2eMs!.Min, 45 + (4 * 15), 10_000);
        Assert.True(report.E2eMs.P50 >= report.TtftMs.P50);
        Assert.InRange(report.TpotMs!.P50, 10, 1000);
        Assert.True(report.RequestThroughput > 0 && report.OutputTokenThroughput > report.RequestThroughput);

        // What was sent: streamed, usage requested, max_tokens with ignore_eos, the key, a synthesized prompt.
        (string path, JsonObject body, string? auth) = server.Requests.First();
        Assert.Equal("/v1/chat/completions", path);
        Assert.Equal("Bearer secret", auth);
        Assert.True(body["stream"]!.GetValue<bool>());
        Assert.True(body["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.True(body["ignore_eos"]!.GetValue<bool>());
        Assert.Equal(16, body["max_tokens"]!.GetValue<int>());
        Assert.Equal("fake-r1", body["model"]!.GetValue<string>());
        Assert.Equal(32, body["messages"]![0]!["content"]!.GetValue<string>().Split(' ').Length);
        Assert.Equal(14, server.Requests.Select(r => r.Body["messages"]![0]!["content"]!.GetValue<string>()).Distinct().Count());

        // The JSON report.
        JsonObject json = report.ToJson(includeRequests: true);
        Assert.Equal(8, json["completed"]!.GetValue<int>());
        Assert.Equal(4, json["failed"]!.GetValue<int>());
        Assert.Equal(12, json["requests"]!.AsArray().Count);
        Assert.True(json["ttft_ms"]!["p99"]!.GetValue<double>() >= json["ttft_ms"]!["p50"]!.GetValue<double>());
        var table = new StringWriter();
        report.WriteTable(table);
        Assert.Contains("TTFT ms", table.ToString(), StringComparison.Ordinal);
        Assert.Contains("error event: boom", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompletionsBenchWithPoissonArrivalsCountsChunksWhenNoUsage()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(new FakeBehavior { ReportUsage = false, FirstChunkDelay = TimeSpan.FromMilliseconds(10), ChunkDelay = TimeSpan.FromMilliseconds(5) });
        using var client = new OpenAiClient(server.Url + "/v1/", null);
        var options = new BenchOptions { Model = "fake-r1", Endpoint = BenchEndpoint.Completions, NumRequests = 10, RequestRate = 50, PromptTokens = 8, OutputTokens = 5, IgnoreEos = false };
        BenchReport report = await new BenchRunner(client, options).RunAsync();

        Assert.Equal((10, 0), (report.Completed, report.Failed));
        Assert.False(report.UsageReported);
        Assert.Equal(10 * 5, report.OutputTokens);
        Assert.Null(report.Concurrency);
        Assert.All(server.Requests, r =>
        {
            Assert.Equal("/v1/completions", r.Path);
            Assert.Null(r.Body["ignore_eos"]);
            Assert.Equal(8, r.Body["prompt"]!.GetValue<string>().Split(' ').Length);
        });

        // Arrivals are spread out (the seeded schedule's last arrival is well after the first).
        double[] due = ArrivalSchedule.Poisson(10, 50, 0);
        Assert.True(report.Results[^1].StartSeconds >= due[^1] - 1e-4);
    }

    [Fact]
    public async Task RefusedConnectionsAndTimeoutsAreFailuresWithReasons()
    {
        // A port nothing listens on.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using (var client = new OpenAiClient($"http://127.0.0.1:{port}", null))
        {
            BenchReport refused = await new BenchRunner(client, new BenchOptions { Model = "m", NumRequests = 3, Concurrency = 3, PromptTokens = 4, OutputTokens = 4 }).RunAsync();
            Assert.Equal((0, 3), (refused.Completed, refused.Failed));
            Assert.Contains("refused", Assert.Single(refused.Failures).Key, StringComparison.OrdinalIgnoreCase);
            Assert.Null(refused.TtftMs);
        }

        await using FakeOpenAiServer slow = await FakeOpenAiServer.StartAsync(new FakeBehavior { FirstChunkDelay = TimeSpan.FromSeconds(3) });
        using var slowClient = new OpenAiClient(slow.Url, null);
        BenchReport timedOut = await new BenchRunner(slowClient, new BenchOptions { Model = "m", NumRequests = 2, Concurrency = 2, OutputTokens = 4, Timeout = TimeSpan.FromMilliseconds(200) }).RunAsync();
        Assert.Equal(new KeyValuePair<string, int>("timeout after 0.2 s", 2), Assert.Single(timedOut.Failures));
    }

    [Fact]
    public async Task BenchCommandResolvesTheModelAndWritesJson()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(new FakeBehavior { FirstChunkDelay = TimeSpan.Zero, ChunkDelay = TimeSpan.FromMilliseconds(1) });
        string file = Path.Combine(Path.GetTempPath(), $"r1-bench-{Guid.NewGuid():N}", "out.json");
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var settings = new BenchSettings { Url = server.Url, NumRequests = 6, Concurrency = 2, PromptTokens = 10, OutputTokens = 5, JsonFile = file, JsonStdout = true };
            int rc = await BenchCommand.RunAsync(settings, output, error);
            Assert.Equal(0, rc);
            JsonNode stdoutJson = JsonNode.Parse(output.ToString())!;
            JsonNode fileJson = JsonNode.Parse(await File.ReadAllTextAsync(file))!;
            foreach (JsonNode j in new[] { stdoutJson, fileJson })
            {
                Assert.Equal("fake-r1", j["model"]!.GetValue<string>());
                Assert.Equal(6, j["completed"]!.GetValue<int>());
                Assert.Equal(30, j["total_output_tokens"]!.GetValue<long>());
            }

            // With --json-stdout the table goes to stderr.
            Assert.Contains("output tok/s", error.ToString(), StringComparison.Ordinal);
            Assert.All(server.Requests, r => Assert.Equal("fake-r1", r.Body["model"]!.GetValue<string>()));
        }
        finally
        {
            if (Directory.Exists(Path.GetDirectoryName(file)))
            {
                Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
            }
        }
    }

    /// <summary>Progress that runs its callback on the reporting thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
