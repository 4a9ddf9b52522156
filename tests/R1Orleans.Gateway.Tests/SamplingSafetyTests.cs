using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;

namespace R1Orleans.Gateway.Tests;

/// <summary>Temperatures too small to divide by, and logits that turn NaN: greedy output or a clear error, never garbage.</summary>
[Collection(GatewayCollection.Name)]
public sealed class SamplingSafetyTests(GatewayFixture fx)
{
    [Theory]
    [InlineData(1e-38)]
    [InlineData(1e-6)]
    public async Task A_tiny_positive_temperature_answers_as_greedy(double temperature)
    {
        JsonObject greedy = Api.ChatBody("Tell me a story", 12);
        greedy["ignore_eos"] = true;
        (HttpResponseMessage r0, JsonElement expected) = await Api.PostAsync(fx.Server, "/v1/chat/completions", greedy);
        Assert.Equal(HttpStatusCode.OK, r0.StatusCode);

        JsonObject tiny = Api.ChatBody("Tell me a story", 12);
        tiny["ignore_eos"] = true;
        tiny["temperature"] = temperature;
        tiny["seed"] = 4;
        (HttpResponseMessage r1, JsonElement actual) = await Api.PostAsync(fx.Server, "/v1/chat/completions", tiny);
        Assert.Equal(HttpStatusCode.OK, r1.StatusCode);
        JsonElement e = expected.GetProperty("choices")[0].GetProperty("message");
        JsonElement a = actual.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(e.GetProperty("reasoning_content").GetString(), a.GetProperty("reasoning_content").GetString());
        Assert.Equal(e.GetProperty("content").GetString(), a.GetProperty("content").GetString());
    }

    [Fact]
    public async Task Nan_logits_mid_stream_are_an_error_event_a_500_otherwise_and_the_engine_stays_healthy()
    {
        // The clean model's greedy continuation of the prompt; poisoning the embedding of its third token makes the
        // logits NaN exactly once that token is fed back, after three tokens have streamed.
        int[] prompt = [0, 5, 9, 12];
        var clean = new List<int>();
        await foreach (TextEvent t in fx.Engine.GenerateAsync(PromptInput.FromTokens(prompt), SamplingParams.Greedy(3) with { IgnoreEos = true }))
        {
            if (t.Token >= 0)
            {
                clean.Add(t.Token);
            }
        }

        int poisoned = clean[2];
        Assert.DoesNotContain(poisoned, prompt);
        Assert.DoesNotContain(poisoned, clean[..2]);
        string directory = fx.PoisonedCopy(poisoned);
        try
        {
            await using InferenceEngine engine = InferenceEngine.Load(directory, GatewayFixture.EngineOptions with { AllowNonfiniteWeights = true });
            await using GatewayServer server = await GatewayServer.StartAsync(engine);
            var body = new JsonObject
            {
                ["prompt"] = new JsonArray([.. prompt.Select(t => (JsonNode)t)]),
                ["max_tokens"] = 20,
                ["temperature"] = 0,
                ["ignore_eos"] = true,
                ["stream"] = true,
            };
            (HttpResponseMessage response, List<string> events) = await Api.StreamAsync(server, "/v1/completions", body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("[DONE]", events[^1]);
            (string message, string type, _, _) = Api.Error(JsonDocument.Parse(events[^2]).RootElement);
            Assert.Equal("server_error", type);
            Assert.Contains("non-finite", message, StringComparison.Ordinal);
            Assert.All(events.SkipLast(2), e => Assert.True(JsonDocument.Parse(e).RootElement.TryGetProperty("choices", out _)));

            body["stream"] = false;
            (HttpResponseMessage failed, JsonElement json) = await Api.PostAsync(server, "/v1/completions", body);
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
            (message, type, _, _) = Api.Error(json);
            Assert.Equal("server_error", type);
            Assert.Contains("non-finite", message, StringComparison.Ordinal);

            // The engine goes on: a request that never feeds the poisoned token back completes.
            body["max_tokens"] = 1;
            (HttpResponseMessage ok, _) = await Api.PostAsync(server, "/v1/completions", body);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.True(await fx.KvCacheEmptiesAsync(engine));
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }
}
