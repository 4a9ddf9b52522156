using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace R1Orleans.Gateway.Tests;

/// <summary>Prompts that cannot fit are refused before they are tokenized; large ones are tokenized off the request path, a few at a time.</summary>
[Collection(GatewayCollection.Name)]
public sealed class HugePromptTests(GatewayFixture fx)
{
    // The fixture's context is 1024 tokens and its tokenizer's longest token 128 bytes: with max_tokens 4, a prompt of
    // more than 1020 × 128 bytes needs more than 1020 tokens and cannot fit.
    private const int ByteBound = (1024 - 4) * 128;

    [Fact]
    public async Task A_prompt_too_long_even_for_the_tokenizer_is_refused_by_its_bytes_as_context_length_exceeded()
    {
        // 1.5 million characters: more than the tokenizer takes at all (2^20), so tokenizing it would fail; the byte bound
        // refuses it first, with the same 400 as any prompt that does not fit.
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, new Dictionary<string, string?> { ["Gateway:MaxBodyBytes"] = "4000000" });
        foreach ((string path, JsonObject body, string param) in new[]
        {
            ("/v1/completions", Api.CompletionBody(new string('a', 1_500_000), 4), "prompt"),
            ("/v1/chat/completions", Api.ChatBody(new string('a', 1_500_000), 4), "messages"),
        })
        {
            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(server, path, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            (string message, string type, string? p, string? code) = Api.Error(json);
            Assert.Equal(("invalid_request_error", param, "context_length_exceeded"), (type, p, code));
            Assert.Contains("maximum context length is 1024 tokens", message, StringComparison.Ordinal);
            Assert.Contains("bytes", message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Without_a_byte_bound_a_prompt_longer_than_the_tokenizer_takes_is_the_same_400()
    {
        // A tokenizer whose first Split removes what it matches (a character no prompt here holds) has no safe bound.
        string directory = Directory.CreateTempSubdirectory("r1-gateway-unbounded-").FullName;
        try
        {
            foreach (string file in Directory.EnumerateFiles(fx.ModelDirectory))
            {
                File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
            }

            string tokenizerPath = Path.Combine(directory, "tokenizer.json");
            JsonObject tokenizer = JsonNode.Parse(File.ReadAllText(tokenizerPath))!.AsObject();
            tokenizer["pre_tokenizer"]!["pretokenizers"]!.AsArray().Insert(0, new JsonObject
            {
                ["type"] = "Split",
                ["pattern"] = new JsonObject { ["String"] = "" },
                ["behavior"] = "Removed",
                ["invert"] = false,
            });
            File.WriteAllText(tokenizerPath, tokenizer.ToJsonString());
            await using R1Orleans.Engine.Api.InferenceEngine engine = R1Orleans.Engine.Api.InferenceEngine.Load(directory, GatewayFixture.EngineOptions);
            await using GatewayServer server = await GatewayServer.StartAsync(engine, new Dictionary<string, string?> { ["Gateway:MaxBodyBytes"] = "4000000" });
            Assert.Null(PromptLengthBound.Of(engine).MaxBytesPerToken);

            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(server, "/v1/completions", Api.CompletionBody(new string('a', 1_500_000), 4));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            (string message, _, string? param, string? code) = Api.Error(json);
            Assert.Equal(("prompt", "context_length_exceeded"), (param, code));
            Assert.Contains("1500000 characters long", message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, true);
        }
    }

    [Fact]
    public async Task Prompts_either_side_of_the_byte_bound_get_the_same_400()
    {
        // Just over: refused by its length in bytes. Just under: tokenized, and refused with its exact token count.
        foreach ((int bytes, bool byBytes) in new[] { (ByteBound + 1, true), (ByteBound, false) })
        {
            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, "/v1/completions", Api.CompletionBody(Text(bytes), 4));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            (string message, _, string? param, string? code) = Api.Error(json);
            Assert.Equal(("prompt", "context_length_exceeded"), (param, code));
            Assert.Contains("maximum context length is 1024 tokens", message, StringComparison.Ordinal);
            Assert.Equal(byBytes, message.Contains($"({bytes} bytes in the prompt: at least {(bytes + 127) / 128} tokens", StringComparison.Ordinal));
            Assert.Equal(!byBytes, System.Text.RegularExpressions.Regex.IsMatch(message, @"\(\d+ in the prompt, 4 in the completion\)"));
        }
    }

    [Fact]
    public async Task Large_prompts_wait_for_a_tokenizer_slot_while_normal_requests_go_on()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, new Dictionary<string, string?> { ["Gateway:TokenizerConcurrency"] = "1" });
        TokenizerGate gate = server.Services.GetRequiredService<TokenizerGate>();
        Assert.Equal(1, gate.Slots);

        // Hold the only slot, as a flood of big prompts would.
        using var release = new ManualResetEventSlim();
        Task<bool> holder = gate.RunAsync(() => release.Wait(TimeSpan.FromSeconds(60)), CancellationToken.None);
        try
        {
            // A large prompt (within the bound, over the inline size) queues for the slot...
            Task<(HttpResponseMessage, JsonElement)> large = Api.PostAsync(server, "/v1/completions", Api.CompletionBody(Text(TokenizerGate.InlineBytes * 2), 4));
            for (int i = 0; i < 3000 && gate.Queued == 0; i++)
            {
                await Task.Delay(10);
            }

            Assert.Equal(1, gate.Queued);

            // ...while a normal request is answered at once.
            (HttpResponseMessage normal, _) = await Api.PostAsync(server, "/v1/chat/completions", Api.ChatBody("hi", 2));
            Assert.Equal(HttpStatusCode.OK, normal.StatusCode);
            Assert.False(large.IsCompleted);

            release.Set();
            (HttpResponseMessage done, JsonElement json) = await large.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(HttpStatusCode.BadRequest, done.StatusCode);
            Assert.Equal("context_length_exceeded", Api.Error(json).Code);
        }
        finally
        {
            release.Set();
            Assert.True(await holder);
        }
    }

    [Fact]
    public async Task Large_prompts_waiting_for_the_tokenizer_are_limited_by_max_waiting()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, new Dictionary<string, string?>
        {
            ["Gateway:TokenizerConcurrency"] = "1",
            ["Gateway:MaxWaiting"] = "1",
            ["Gateway:RetryAfterSeconds"] = "3",
        });
        TokenizerGate gate = server.Services.GetRequiredService<TokenizerGate>();
        using var release = new ManualResetEventSlim();
        Task<bool> holder = gate.RunAsync(() => release.Wait(TimeSpan.FromSeconds(60)), CancellationToken.None);
        try
        {
            JsonObject body = Api.CompletionBody(Text(TokenizerGate.InlineBytes * 2), 4);
            Task<(HttpResponseMessage, JsonElement)> first = Api.PostAsync(server, "/v1/completions", body);
            for (int i = 0; i < 3000 && gate.Queued == 0; i++)
            {
                await Task.Delay(10);
            }

            Assert.Equal(1, gate.Queued);
            (HttpResponseMessage refused, JsonElement json) = await Api.PostAsync(server, "/v1/completions", body);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter!.Delta);
            Assert.Equal("rate_limit_exceeded", Api.Error(json).Code);

            release.Set();
            (HttpResponseMessage done, _) = await first.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(HttpStatusCode.BadRequest, done.StatusCode);
        }
        finally
        {
            release.Set();
            Assert.True(await holder);
        }
    }

    /// <summary>Ordinary words, exactly <paramref name="bytes"/> bytes of ASCII.</summary>
    private static string Text(int bytes)
    {
        var sb = new StringBuilder(bytes + 16);
        for (int i = 0; sb.Length < bytes; i++)
        {
            sb.Append("word").Append(i % 97).Append(' ');
        }

        return sb.ToString(0, bytes);
    }
}
