using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Orleans.Engine.Api;

namespace R1Orleans.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class ErrorTests(GatewayFixture fx)
{
    private const string Chat = "/v1/chat/completions";
    private const string Completions = "/v1/completions";
    private const string Messages = """ "messages":[{"role":"user","content":"hi"}] """;

    [Theory]
    [InlineData(Chat, """{"model": "r1-tiny-random", "messages": [""", null, "invalid_json")]
    [InlineData(Chat, "not json at all", null, "invalid_json")]
    [InlineData(Chat, "", null, "invalid_json")]
    [InlineData(Chat, "[1, 2]", null, null)]
    [InlineData(Chat, """{"model":"r1-tiny-random"}""", "messages", "missing_required_parameter")]
    [InlineData(Chat, """{"messages":"hi"}""", "messages", "invalid_type")]
    [InlineData(Chat, """{"messages":[]}""", "messages", "invalid_value")]
    [InlineData(Chat, """{"messages":[{"content":"hi"}]}""", "messages[0].role", "missing_required_parameter")]
    [InlineData(Chat, """{"messages":[{"role":"wizard","content":"hi"}]}""", "messages[0].role", "invalid_value")]
    [InlineData(Chat, """{"messages":[{"role":"user","content":42}]}""", "messages[0].content", "invalid_type")]
    [InlineData(Chat, """{"messages":[{"role":"user"}]}""", "messages[0].content", "missing_required_parameter")]
    [InlineData(Chat, """{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages[0].content[0].type", "unsupported_parameter")]
    [InlineData(Chat, $$"""{{{Messages}}, "temperature":"hot"}""", "temperature", "invalid_type")]
    [InlineData(Chat, $$"""{{{Messages}}, "temperature":2.5}""", "temperature", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "temperature":-0.1}""", "temperature", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "top_p":0}""", "top_p", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "top_p":1.01}""", "top_p", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "max_tokens":0}""", "max_tokens", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "max_completion_tokens":-3}""", "max_completion_tokens", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "max_tokens":2.5}""", "max_tokens", "invalid_type")]
    [InlineData(Chat, $$"""{{{Messages}}, "logprobs":true, "top_logprobs":21}""", "top_logprobs", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "top_logprobs":3}""", "top_logprobs", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "logprobs":"yes"}""", "logprobs", "invalid_type")]
    [InlineData(Chat, $$"""{{{Messages}}, "stop":["a","b","c","d","e"]}""", "stop", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "stop":["a",3]}""", "stop[1]", "invalid_type")]
    [InlineData(Chat, $$"""{{{Messages}}, "n":0}""", "n", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "n":9}""", "n", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "presence_penalty":3}""", "presence_penalty", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "frequency_penalty":-2.5}""", "frequency_penalty", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "min_p":1.5}""", "min_p", "invalid_value")]
    [InlineData(Chat, $$"""{{{Messages}}, "seed":"abc"}""", "seed", "invalid_type")]
    [InlineData(Chat, $$"""{{{Messages}}, "stream":"yes"}""", "stream", "invalid_type")]
    [InlineData(Chat, """{"messages":[{"role":"user","content":"hi"}], "stream":true, "stream_options":{"include_usage":1}}""", "stream_options.include_usage", "invalid_type")]
    [InlineData(Chat, $$"""{{{Messages}}, "tool_choice":"required"}""", "tool_choice", "unsupported_parameter")]
    [InlineData(Chat, """{"messages":[{"role":"user","content":"hi"}], "response_format":{"type":"json_object"}}""", "response_format", "unsupported_parameter")]
    [InlineData(Chat, """{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"42"}]}""", "messages[1].tool_call_id", "missing_required_parameter")]
    [InlineData(Chat, """{"messages":[{"role":"tool","content":"42","tool_call_id":7}]}""", "messages[0].tool_call_id", "invalid_type")]
    [InlineData(Chat, $$"""{{{Messages}}, "seed":3.5}""", "seed", "invalid_type")]
    [InlineData(Chat, $$"""{{{Messages}}, "max_tokens":2000}""", "messages", "context_length_exceeded")]
    [InlineData(Completions, """{"model":"r1-tiny-random"}""", "prompt", "missing_required_parameter")]
    [InlineData(Completions, """{"prompt":{"text":"hi"}}""", "prompt", "invalid_type")]
    [InlineData(Completions, """{"prompt":[]}""", "prompt", "invalid_value")]
    [InlineData(Completions, """{"prompt":[1, 99999]}""", "prompt", "invalid_value")]
    [InlineData(Completions, """{"prompt":[1, "x"]}""", "prompt[1]", "invalid_type")]
    [InlineData(Completions, """{"prompt":["a", "b"]}""", "prompt", "unsupported_parameter")]
    [InlineData(Completions, """{"prompt":"hi", "logprobs":21}""", "logprobs", "invalid_value")]
    [InlineData(Completions, """{"prompt":"hi", "echo":true}""", "echo", "unsupported_parameter")]
    [InlineData(Completions, """{"prompt":"hi", "max_tokens":1023}""", "prompt", "context_length_exceeded")]
    public async Task Bad_requests_get_400_in_the_openai_envelope_naming_the_parameter(string path, string body, string? param, string? code)
    {
        long generated = fx.Engine.Stats.GeneratedTokens;
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, path, body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        (string message, string type, string? p, string? c) = Api.Error(json);
        Assert.Equal("invalid_request_error", type);
        Assert.Equal(param, p);
        if (code is not null)
        {
            Assert.Equal(code, c);
        }

        if (code == "context_length_exceeded")
        {
            Assert.Contains("maximum context length is 1024 tokens", message, StringComparison.Ordinal);
        }

        Assert.Equal(generated, fx.Engine.Stats.GeneratedTokens);
    }

    [Theory]
    [InlineData("99999999999", "99999999999")]
    [InlineData("1e12", "1000000000000")]
    [InlineData("2147483648", "2147483648")]
    [InlineData("9223372036854775807", "9223372036854775807")]
    public async Task Max_tokens_beyond_the_context_is_reported_as_given(string maxTokens, string said)
    {
        foreach ((string path, string body, string param) in new[]
        {
            (Chat, $$"""{{{Messages}}, "max_tokens":{{maxTokens}}}""", "messages"),
            (Completions, $$"""{"prompt":"hi", "max_tokens":{{maxTokens}}}""", "prompt"),
            (Chat, $$"""{{{Messages}}, "max_completion_tokens":{{maxTokens}}}""", "messages"),
        })
        {
            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, path, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            (string message, _, string? p, string? code) = Api.Error(json);
            Assert.Equal((param, "context_length_exceeded"), (p, code));
            Assert.Contains($"{said} in the completion", message, StringComparison.Ordinal);
            Assert.DoesNotContain("2147483647", message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("18446744073709551616")]
    [InlineData("-9223372036854775809")]
    [InlineData("1e30")]
    [InlineData("1e400")]
    public async Task A_seed_outside_64_bits_is_a_400_that_states_the_range(string seed)
    {
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, Chat, $$"""{{{Messages}}, "seed":{{seed}}}""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        (string message, _, string? param, string? code) = Api.Error(json);
        Assert.Equal(("seed", "invalid_value"), (param, code));
        Assert.Contains("-9223372036854775808..9223372036854775807", message, StringComparison.Ordinal);
        Assert.Contains(seed, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_seed_at_the_64_bit_limits_is_accepted()
    {
        foreach (string seed in new[] { "9223372036854775807", "-9223372036854775808", "1e15" })
        {
            (HttpResponseMessage response, _) = await Api.PostAsync(fx.Server, Chat, $$"""{{{Messages}}, "max_tokens":2, "seed":{{seed}}}""");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Lone_surrogates_in_text_are_a_400()
    {
        foreach ((string path, string body) in new[]
        {
            (Completions, """{"prompt":"a\ud800b", "max_tokens":2}"""),
            (Chat, """{"messages":[{"role":"user","content":"\udc00x"}], "max_tokens":2}"""),
        })
        {
            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, path, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("invalid_json", Api.Error(json).Code);
        }
    }

    [Fact]
    public async Task Response_json_escapes_only_what_json_requires()
    {
        JsonObject body = Api.ChatBody("hi", 2);
        body["model"] = "gpt+4<o>&'\"x";
        using var content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await fx.Server.Http.PostAsync(Chat, content);
        string raw = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("The model `gpt+4<o>&'\\\"x` does not exist", raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_model_is_404_model_not_found()
    {
        JsonObject body = Api.ChatBody("hi", 2);
        body["model"] = "gpt-4o";
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, Chat, body);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        (string message, string type, string? param, string? code) = Api.Error(json);
        Assert.Equal(("invalid_request_error", "model", "model_not_found"), (type, param, code));
        Assert.Contains("gpt-4o", message, StringComparison.Ordinal);

        (response, json) = await Api.GetAsync(fx.Server, "/v1/models/gpt-4o");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model_not_found", Api.Error(json).Code);

        // The OpenAI client sees the same through its exception.
        var e = await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() =>
            new OpenAI.Chat.ChatClient("gpt-4o", new System.ClientModel.ApiKeyCredential("k"), new OpenAI.OpenAIClientOptions { Endpoint = new Uri(fx.Server.Url + "/v1") })
                .CompleteChatAsync([new OpenAI.Chat.UserChatMessage("hi")]));
        Assert.Equal(404, e.Status);
    }

    [Fact]
    public async Task Body_over_the_limit_is_413_with_or_without_content_length()
    {
        string huge = $$"""{"messages":[{"role":"user","content":"{{new string('a', 1_200_000)}}"}]}""";
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, Chat, huge);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", Api.Error(json).Code);

        // Chunked: no Content-Length to refuse early; the limit applies while reading.
        using var chunked = new HttpRequestMessage(HttpMethod.Post, Chat)
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(huge))),
        };
        chunked.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        chunked.Headers.TransferEncodingChunked = true;
        using HttpResponseMessage r2 = await fx.Server.Http.SendAsync(chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r2.StatusCode);
        Assert.Equal("request_too_large", Api.Error(JsonDocument.Parse(await r2.Content.ReadAsStringAsync()).RootElement).Code);
    }

    [Theory]
    [InlineData("GET", "/v1/nope", 404)]
    [InlineData("POST", "/v1/engines/davinci/completions", 404)]
    [InlineData("GET", "/", 404)]
    [InlineData("GET", "/favicon.ico", 404)]
    [InlineData("GET", "/v1/chat/completions", 405)]
    [InlineData("DELETE", "/v1/models", 405)]
    public async Task Unknown_routes_and_methods_get_the_envelope(string method, string path, int status)
    {
        using HttpResponseMessage response = await fx.Server.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(status, (int)response.StatusCode);
        (string message, string type, _, _) = Api.Error(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
        Assert.Equal("invalid_request_error", type);
        Assert.Contains(path, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_beyond_waiting_plus_running_capacity_is_429_with_retry_after()
    {
        // Capacity: 2 waiting places + 1 running slot; n = 4 cannot fit, n = 3 can.
        await using InferenceEngine engine = fx.LoadEngine(GatewayFixture.EngineOptions with { Scheduler = GatewayFixture.EngineOptions.Scheduler with { MaxNumSeqs = 1 } });
        await using GatewayServer server = await GatewayServer.StartAsync(engine, new Dictionary<string, string?>
        {
            ["Gateway:MaxWaiting"] = "2",
            ["Gateway:RetryAfterSeconds"] = "7",
        });
        JsonObject body = Api.ChatBody("hi", 2);
        body["n"] = 4;
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(server, Chat, body);
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter!.Delta);
        (string message, _, _, string? code) = Api.Error(json);
        Assert.Equal("rate_limit_exceeded", code);
        Assert.Contains("limit 2 waiting + 1 running", message, StringComparison.Ordinal);

        body["n"] = 3;
        (response, _) = await Api.PostAsync(server, Chat, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_burst_beyond_max_waiting_but_within_free_running_slots_is_all_admitted()
    {
        // MaxWaiting 2, MaxNumSeqs 32: 24 simultaneous requests never exceed waiting + running capacity (34), whatever
        // the engine has admitted by the time each arrives, so none may be refused.
        const int burst = 24;
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, new Dictionary<string, string?> { ["Gateway:MaxWaiting"] = "2" });
        using var start = new SemaphoreSlim(0, burst);
        Task<HttpStatusCode>[] requests = [.. Enumerable.Range(0, burst).Select(i => Task.Run(async () =>
        {
            await start.WaitAsync();
            (HttpResponseMessage r, _) = await Api.PostAsync(server, Chat, Api.ChatBody($"hello {i}", 4));
            return r.StatusCode;
        }))];
        start.Release(burst);
        HttpStatusCode[] statuses = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.True(await fx.KvCacheEmptiesAsync());
    }

    [Fact]
    public async Task Unexpected_exceptions_are_a_generic_500_without_details()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, extra: app =>
            Microsoft.AspNetCore.Builder.EndpointRouteBuilderExtensions.MapGet(app, "/v1/boom", (Func<string>)(() => throw new InvalidOperationException("secret internals at /srv/x"))));
        using HttpResponseMessage response = await server.Http.GetAsync("/v1/boom");
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.DoesNotContain("secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("InvalidOperationException", text, StringComparison.Ordinal);
        (string message, string type, _, _) = Api.Error(JsonDocument.Parse(text).RootElement);
        Assert.Equal(("internal server error", "server_error"), (message, type));
    }

    [Fact]
    public async Task An_engine_that_fails_to_take_a_request_is_a_500_envelope()
    {
        // A disposed engine: its loop is gone, so submitting fails in an unexpected way.
        var engine = fx.LoadEngine(GatewayFixture.EngineOptions);
        await engine.DisposeAsync();
        await using GatewayServer server = await GatewayServer.StartAsync(engine);
        foreach (bool stream in new[] { false, true })
        {
            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(server, Chat, Api.ChatBody("hi", 2, stream));
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            Assert.Equal("server_error", Api.Error(json).Type);
        }
    }
}
