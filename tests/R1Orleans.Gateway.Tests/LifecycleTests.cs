using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using OpenAI.Chat;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Gateway.Tests;

/// <summary>Cancellation, concurrency, mid-stream errors, readiness, models, metrics, API keys and options.</summary>
[Collection(GatewayCollection.Name)]
public sealed partial class LifecycleTests(GatewayFixture fx)
{
    [Fact]
    public async Task A_client_that_drops_a_stream_cancels_its_request_and_frees_the_kv_cache()
    {
        Assert.True(await fx.KvCacheEmptiesAsync());
        long generated = fx.Engine.Stats.GeneratedTokens;
        long aborts = Counter(await MetricsAsync(fx.Server), "request_success_total", "finished_reason=\"abort\"");
        JsonObject body = Api.ChatBody("Tell me everything", 900, stream: true);
        body["ignore_eos"] = true;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };

        // A client that closes the connection when it drops the response (HttpClient would otherwise drain it for 2 s).
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = new Uri(fx.Server.Url) };
        HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        int data = 0;
        while (data < 4 && await reader.ReadLineAsync() is string line)
        {
            data += line.StartsWith("data: ", StringComparison.Ordinal) ? 1 : 0;
        }

        Assert.True(fx.Engine.Cache.Allocator.UsedBlocks > 0);
        reader.Dispose();
        response.Dispose();
        request.Dispose();

        Assert.True(await fx.KvCacheEmptiesAsync(), $"{fx.Engine.Cache.Allocator.UsedBlocks} KV blocks still used");
        Assert.True(fx.Engine.Stats.GeneratedTokens - generated < 900);
        Assert.Equal(0, fx.Engine.Core.Running + fx.Engine.Core.Waiting);
        Assert.Equal(aborts + 1, Counter(await MetricsAsync(fx.Server), "request_success_total", "finished_reason=\"abort\""));
    }

    [Fact]
    public async Task A_client_that_gives_up_on_a_non_streaming_request_cancels_it_too()
    {
        Assert.True(await fx.KvCacheEmptiesAsync());
        long generated = fx.Engine.Stats.GeneratedTokens;
        JsonObject body = Api.CompletionBody("Tell me everything", 900);
        body["ignore_eos"] = true;
        using var cts = new CancellationTokenSource();
        Task<HttpResponseMessage> pending = fx.Server.Http.PostAsync("/v1/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cts.Token);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (fx.Engine.Stats.GeneratedTokens - generated < 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.True(await fx.KvCacheEmptiesAsync(), $"{fx.Engine.Cache.Allocator.UsedBlocks} KV blocks still used");
        Assert.True(fx.Engine.Stats.GeneratedTokens - generated < 900);
    }

    [Fact]
    public async Task Sixteen_concurrent_greedy_streams_all_complete_and_each_equals_its_solo_output()
    {
        ChatClient client = Api.Chat(fx.Server);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 };
        string[] prompts = [.. Enumerable.Range(0, 16).Select(i => $"Question {i}: what comes after {i * 7}?")];

        async Task<(string Text, ChatFinishReason? Finish, int Tokens)> RunAsync(string prompt)
        {
            var text = new StringBuilder();
            ChatFinishReason? finish = null;
            int tokens = 0;
            await foreach (StreamingChatCompletionUpdate u in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)], options))
            {
                text.AppendJoin("", u.ContentUpdate.Select(p => p.Text));
                finish ??= u.FinishReason;
                tokens = u.Usage?.OutputTokenCount ?? tokens;
            }

            return (text.ToString(), finish, tokens);
        }

        // Solo, one at a time: the reference. The client shows only content (often empty: the text is reasoning), so the
        // raw streams are compared below as well.
        var solo = new List<(string Text, ChatFinishReason? Finish, int Tokens)>();
        foreach (string p in prompts)
        {
            solo.Add(await RunAsync(p));
        }

        var concurrent = await Task.WhenAll(prompts.Select(p => Task.Run(() => RunAsync(p))));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.NotNull(concurrent[i].Finish);
            Assert.True(concurrent[i].Tokens > 0);
            Assert.Equal(solo[i], concurrent[i]);
        }

        // The raw streams (reasoning included) agree as well.
        var raw = await Task.WhenAll(prompts.Select(p => Task.Run(() => RawReasoningAsync(p))));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(await RawReasoningAsync(prompts[i]), raw[i]);
        }

        Assert.True(await fx.KvCacheEmptiesAsync());
    }

    private async Task<string> RawReasoningAsync(string prompt)
    {
        (_, List<string> events) = await Api.StreamAsync(fx.Server, "/v1/chat/completions", Api.ChatBody(prompt, 12, stream: true));
        Assert.Equal("[DONE]", events[^1]);
        var sb = new StringBuilder();
        foreach (string e in events.SkipLast(1))
        {
            JsonElement delta = JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("delta");
            sb.Append(delta.TryGetProperty("reasoning_content", out JsonElement r) ? r.GetString() : "");
            sb.Append('|').Append(delta.TryGetProperty("content", out JsonElement c) ? c.GetString() : "");
        }

        return sb.ToString();
    }

    [Fact]
    public async Task A_stream_the_engine_ends_after_it_began_is_an_error_event_then_done()
    {
        await using InferenceEngine own = fx.LoadEngine(GatewayFixture.EngineOptions);
        await using GatewayServer server = await GatewayServer.StartAsync(own);
        JsonObject body = Api.ChatBody("Hi", 200, stream: true);
        body["ignore_eos"] = true;

        // The server ends the request (as a shutdown or an operator would) once a few tokens have streamed.
        Task abort = Task.Run(async () =>
        {
            while (own.Stats.GeneratedTokens < 5)
            {
                await Task.Delay(1);
            }

            own.Core.Cancel("req-1");
        });
        (HttpResponseMessage response, List<string> events) = await Api.StreamAsync(server, "/v1/chat/completions", body);
        await abort;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[DONE]", events[^1]);
        Assert.True(events.Count > 5, "tokens streamed before the failure");
        (string message, string type, _, _) = Api.Error(JsonDocument.Parse(events[^2]).RootElement);
        Assert.Equal("server_error", type);
        Assert.Contains("aborted by the server", message, StringComparison.Ordinal);
        Assert.All(events.SkipLast(2), e => Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
        Assert.True(await fx.KvCacheEmptiesAsync(own));
    }

    [Fact]
    public async Task A_request_longer_than_the_whole_kv_cache_is_a_400_before_anything_streams()
    {
        // 64 KV positions: no sequence longer than 63 can ever run, so the request is refused up front.
        await using InferenceEngine small = fx.LoadEngine(new InferenceEngineOptions { KvCacheTokens = 64, KvBlockSize = 16 });
        await using GatewayServer server = await GatewayServer.StartAsync(small);
        foreach (bool stream in new[] { true, false })
        {
            JsonObject body = Api.ChatBody("Hi", 200, stream);
            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(server, "/v1/chat/completions", body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            (string message, _, string? param, string? code) = Api.Error(json);
            Assert.Equal(("messages", "context_length_exceeded"), (param, code));
            Assert.Contains("maximum context length is 63 tokens", message, StringComparison.Ordinal);
        }

        // Without max_tokens the default shrinks to what is left, and the request runs to its length limit.
        JsonObject fits = Api.ChatBody("Hi", 0);
        fits.Remove("max_tokens");
        fits["ignore_eos"] = true;
        (HttpResponseMessage ok, JsonElement done) = await Api.PostAsync(server, "/v1/chat/completions", fits);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("length", done.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(63, done.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Health_is_503_until_the_model_is_ready_then_200()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(null, new Dictionary<string, string?> { ["Gateway:RetryAfterSeconds"] = "3" });
        server.Host.SetLoadingStatus("loading layer 2 of 4");
        using (HttpResponseMessage health = await server.Http.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(3), health.Headers.RetryAfter!.Delta);
            JsonElement json = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("loading", json.GetProperty("status").GetString());
            Assert.Equal("loading layer 2 of 4", json.GetProperty("detail").GetString());
        }

        (HttpResponseMessage chat, JsonElement error) = await Api.PostAsync(server, "/v1/chat/completions", Api.ChatBody("hi", 2));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, chat.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), chat.Headers.RetryAfter!.Delta);
        Assert.Equal(("server_error", "model_not_ready"), (Api.Error(error).Type, Api.Error(error).Code));
        (HttpResponseMessage models, error) = await Api.GetAsync(server, "/v1/models");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, models.StatusCode);
        Assert.Equal("model_not_ready", Api.Error(error).Code);
        Assert.Contains("r1orleans:model_ready{model_name=\"\"} 0", await MetricsAsync(server), StringComparison.Ordinal);

        Assert.False(server.Host.IsReady);
        server.Host.SetReady(fx.Engine, GatewayServer.Info);
        Assert.True(server.Host.IsReady);
        Assert.Same(fx.Engine, server.Host.Engine);
        Assert.Equal(GatewayServer.Info, server.Host.Info);
        (HttpResponseMessage ok, JsonElement status) = await Api.GetAsync(server, "/health");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("ok", status.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Models_lists_the_served_model_with_its_plain_description()
    {
        var models = new OpenAI.Models.OpenAIModelClient(new System.ClientModel.ApiKeyCredential("k"), new OpenAI.OpenAIClientOptions { Endpoint = new Uri(fx.Server.Url + "/v1") });
        OpenAI.Models.OpenAIModelCollection list = await models.GetModelsAsync();
        OpenAI.Models.OpenAIModel m = Assert.Single(list);
        Assert.Equal(GatewayServer.ModelId, m.Id);
        Assert.Equal("r1orleans-tests", m.OwnedBy);
        Assert.Equal(GatewayServer.Info.Created, m.CreatedAt);

        (_, JsonElement json) = await Api.GetAsync(fx.Server, "/v1/models");
        Assert.Equal("list", json.GetProperty("object").GetString());
        JsonElement entry = json.GetProperty("data")[0];
        Assert.Equal("model", entry.GetProperty("object").GetString());
        Assert.Equal("built-in random-weight model: output is noise", entry.GetProperty("description").GetString());
        Assert.Equal(1024, entry.GetProperty("max_model_len").GetInt32());

        (HttpResponseMessage one, JsonElement single) = await Api.GetAsync(fx.Server, "/v1/models/" + GatewayServer.ModelId);
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(GatewayServer.ModelId, single.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Metrics_expose_the_vllm_like_series_after_traffic()
    {
        JsonObject body = Api.CompletionBody("metrics please", 5);
        body["ignore_eos"] = true;
        (HttpResponseMessage r, _) = await Api.PostAsync(fx.Server, "/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using HttpResponseMessage response = await fx.Server.Http.GetAsync("/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains(response.Content.Headers.ContentType.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        string text = await response.Content.ReadAsStringAsync();

        // Every line about an R1Orleans metric is well formed; the scrape also carries ASP.NET Core's and the runtime's
        // series (OpenTelemetry writes those), and OpenTelemetry sorts labels by name (model_name need not come first).
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(NamesR1OrleansMetric))
        {
            Assert.Matches(line.StartsWith('#') ? CommentLine() : SampleLine(), line);
        }

        string[] names =
        [
            "num_requests_running", "num_requests_waiting", "kv_cache_usage_perc", "prompt_tokens_total", "generation_tokens_total",
            "request_success_total", "num_preemptions_total", "spec_decode_num_draft_tokens_total", "spec_decode_num_accepted_tokens_total",
            "time_to_first_token_seconds", "inter_token_latency_seconds", "e2e_request_latency_seconds",
        ];
        foreach (string name in names)
        {
            Assert.Contains($"# TYPE r1orleans:{name} ", text, StringComparison.Ordinal);
        }

        Assert.True(Counter(text, "request_success_total", "finished_reason=\"length\"") >= 1);
        Assert.True(Counter(text, "generation_tokens_total") >= 5);
        Assert.True(Counter(text, "prompt_tokens_total") >= 3);
        Assert.True(Counter(text, "time_to_first_token_seconds_count") >= 1);
        Assert.True(Counter(text, "inter_token_latency_seconds_count") >= 4);
        Assert.True(Counter(text, "e2e_request_latency_seconds_count") >= 1);
        Assert.Equal(Counter(text, "time_to_first_token_seconds_count"), Counter(text, "time_to_first_token_seconds_bucket", "le=\"+Inf\""));
        Assert.Equal(fx.Engine.Stats.DraftTokens, Counter(text, "spec_decode_num_draft_tokens_total"));
        Assert.True(Counter(text, "spec_decode_num_draft_tokens_total") > 0, "greedy requests draft with MTP");
        Assert.Contains($"r1orleans:num_requests_running{{model_name=\"{GatewayServer.ModelId}\"}} ", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_keys_guard_v1_only_and_compare_the_whole_key()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, new Dictionary<string, string?>
        {
            ["Gateway:ApiKeys:0"] = "sk-first-key",
            ["Gateway:ApiKeys:1"] = "sk-second-key",
        });

        foreach (string? key in new[] { null, "wrong", "sk-second-ke", "sk-second-key-and-more", "" })
        {
            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(server, "/v1/chat/completions", Api.ChatBody("hi", 2), key);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal(("invalid_request_error", "invalid_api_key"), (Api.Error(json).Type, Api.Error(json).Code));
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }

        var denied = await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() =>
            Api.Chat(server, "sk-nope").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 }));
        Assert.Equal(401, denied.Status);

        ChatCompletion ok = await Api.Chat(server, "sk-second-key").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 });
        Assert.True(ok.Usage.OutputTokenCount is >= 1 and <= 2);
        (HttpResponseMessage first, _) = await Api.PostAsync(server, "/v1/completions", Api.CompletionBody("hi", 1), "sk-first-key");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task Default_max_tokens_applies_and_shrinks_to_what_the_context_leaves()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, new Dictionary<string, string?> { ["Gateway:DefaultMaxTokens"] = "3" });
        JsonObject body = Api.CompletionBody("hello", 1);
        body.Remove("max_tokens");
        body["ignore_eos"] = true;
        (_, JsonElement json) = await Api.PostAsync(server, "/v1/completions", body);
        Assert.Equal(3, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        // 1022 prompt tokens leave room for 2 of the default 256.
        JsonObject longPrompt = Api.CompletionBody("", 1);
        longPrompt.Remove("max_tokens");
        longPrompt["ignore_eos"] = true;
        longPrompt["prompt"] = new JsonArray([.. Enumerable.Repeat(100, 1022).Select(t => (JsonNode)t)]);
        (HttpResponseMessage r, json) = await Api.PostAsync(fx.Server, "/v1/completions", longPrompt);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(2, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [InlineData("Gateway:MaxBodyBytes", "10")]
    [InlineData("Gateway:DefaultMaxTokens", "0")]
    [InlineData("Gateway:MaxWaiting", "0")]
    [InlineData("Gateway:ApiKeys:0", " ")]
    [InlineData("Gateway:GenerationConfig", "sometimes")]
    public async Task Invalid_options_stop_the_server_from_starting(string setting, string value)
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(null, new Dictionary<string, string?> { [setting] = value }));
        Assert.Contains(setting, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_count_k_routed_tokens_per_token_in_every_moe_layer_and_report_max_over_mean()
    {
        JsonObject body = Api.CompletionBody("route these tokens", 4);
        body["ignore_eos"] = true;
        (HttpResponseMessage r, _) = await Api.PostAsync(fx.Server, "/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        string text = await MetricsAsync(fx.Server);
        var perLayer = text.Split('\n')
            .Where(l => l.StartsWith("r1orleans:expert_tokens_total{", StringComparison.Ordinal))
            .Select(l => (Layer: LabelValue(l, "layer"), Tokens: (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)))
            .GroupBy(s => s.Layer)
            .ToList();
        Assert.NotEmpty(perLayer);
        InferenceEngine engine = fx.Engine;
        int k = engine.Config.NumExpertsPerTok;
        foreach (IGrouping<string, (string Layer, long Tokens)> layer in perLayer)
        {
            long[] tokens = [.. layer.Select(s => s.Tokens)];
            Assert.Equal(engine.Config.NRoutedExperts, tokens.Length);
            long sum = tokens.Sum();
            Assert.True(sum > 0, $"layer {layer.Key} routed no tokens");
            Assert.Equal(0, sum % k);
            double imbalance = tokens.Max() / ((double)sum / tokens.Length);
            string gauge = text.Split('\n').Single(l => l.StartsWith("r1orleans:expert_load_imbalance{", StringComparison.Ordinal) && LabelValue(l, "layer") == layer.Key);
            Assert.Equal(imbalance, double.Parse(gauge[(gauge.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture), 9);
        }
    }

    private static string LabelValue(string line, string label)
    {
        int start = line.IndexOf($"{label}=\"", StringComparison.Ordinal) + label.Length + 2;
        return line[start..line.IndexOf('"', start)];
    }

    private static bool NamesR1OrleansMetric(string line) =>
        line.StartsWith("r1orleans:", StringComparison.Ordinal) || line.StartsWith("# HELP r1orleans:", StringComparison.Ordinal) || line.StartsWith("# TYPE r1orleans:", StringComparison.Ordinal);

    private static async Task<string> MetricsAsync(GatewayServer server) => await server.Http.GetStringAsync("/metrics");

    /// <summary>The value of the one series of <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    private static long Counter(string metrics, string name, string label = "")
    {
        string line = metrics.Split('\n').Single(l => l.StartsWith($"r1orleans:{name}{{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal));
        return (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex("""^# (HELP|TYPE) r1orleans:[a-z0-9_]+ \S.*$""")]
    private static partial Regex CommentLine();

    [GeneratedRegex("""^r1orleans:[a-z0-9_]+\{([a-z_]+="[^"]*",)*model_name="[^"]*"(,[a-z_]+="[^"]*")*\} (-?[0-9.eE+-]+|\+Inf|NaN)$""")]
    private static partial Regex SampleLine();
}
