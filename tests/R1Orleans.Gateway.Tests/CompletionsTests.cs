using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;

namespace R1Orleans.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class CompletionsTests(GatewayFixture fx)
{
    private const string Prompt = "Once upon a time";

    [Fact]
    public async Task Completion_returns_the_engines_text_and_usage()
    {
        EngineAnswer expected = await Api.EngineAsync(fx.Engine, PromptInput.FromText(Prompt), SamplingParams.Greedy(10));
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, "/v1/completions", Api.CompletionBody(Prompt, 10));

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        Assert.StartsWith("cmpl-", json.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(GatewayServer.ModelId, json.GetProperty("model").GetString());
        Assert.True(json.GetProperty("created").GetInt64() > 1_700_000_000);
        JsonElement choice = json.GetProperty("choices")[0];
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
        Assert.Equal(expected.FinishName, choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        JsonElement usage = json.GetProperty("usage");
        Assert.Equal(fx.Engine.Tokenizer.Encode(Prompt).Count, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.Usage.CompletionTokens, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(expected.Usage.TotalTokens, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Token_id_prompts_and_a_one_string_array_mean_the_same_prompt()
    {
        int[] ids = [.. fx.Engine.Tokenizer.Encode(Prompt)];
        JsonObject asText = Api.CompletionBody(Prompt, 6);
        JsonObject asIds = Api.CompletionBody(Prompt, 6);
        asIds["prompt"] = new JsonArray([.. ids.Select(i => (JsonNode)i)]);
        JsonObject asArray = Api.CompletionBody(Prompt, 6);
        asArray["prompt"] = new JsonArray(Prompt);

        string[] texts = new string[3];
        int i = 0;
        foreach (JsonObject body in new[] { asText, asIds, asArray })
        {
            (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, "/v1/completions", body);
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal(ids.Length, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
            texts[i++] = json.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }

        Assert.Equal(texts[0], texts[1]);
        Assert.Equal(texts[0], texts[2]);
    }

    [Fact]
    public async Task Streaming_completion_concatenates_to_the_same_text_with_finish_and_usage()
    {
        EngineAnswer expected = await Api.EngineAsync(fx.Engine, PromptInput.FromText(Prompt), SamplingParams.Greedy(10));
        JsonObject body = Api.CompletionBody(Prompt, 10, stream: true);
        body["stream_options"] = new JsonObject { ["include_usage"] = true };
        (HttpResponseMessage response, List<string> events) = await Api.StreamAsync(fx.Server, "/v1/completions", body);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("[DONE]", events[^1]);
        JsonElement[] chunks = [.. events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.Clone())];
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        var text = new StringBuilder();
        foreach (JsonElement c in chunks[..^1])
        {
            text.Append(c.GetProperty("choices")[0].GetProperty("text").GetString());
        }

        Assert.Equal(expected.Text, text.ToString());
        Assert.Equal(expected.FinishName, chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, chunks[^1].GetProperty("choices").GetArrayLength());
        Assert.Equal(expected.Usage.CompletionTokens, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(expected.Usage.PromptTokens, chunks[^1].GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Stop_string_cuts_the_completion_and_finishes_with_stop()
    {
        var sampling = SamplingParams.Greedy(20) with { IgnoreEos = true };
        EngineAnswer full = await Api.EngineAsync(fx.Engine, PromptInput.FromText(Prompt), sampling);
        Assert.True(full.Text.Length >= 6, $"greedy output too short to pick a stop string: '{full.Text}'");
        string stop = full.Text.Substring(full.Text.Length / 2, 2);
        int cut = full.Text.IndexOf(stop, StringComparison.Ordinal);

        foreach (bool stream in new[] { false, true })
        {
            JsonObject body = Api.CompletionBody(Prompt, 20, stream);
            body["ignore_eos"] = true;
            body["stop"] = stop;
            string text;
            string? finish;
            if (stream)
            {
                (_, List<string> events) = await Api.StreamAsync(fx.Server, "/v1/completions", body);
                JsonElement[] choices = [.. events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].Clone())];
                text = string.Concat(choices.Select(c => c.GetProperty("text").GetString()));
                finish = choices[^1].GetProperty("finish_reason").GetString();
            }
            else
            {
                (_, JsonElement json) = await Api.PostAsync(fx.Server, "/v1/completions", body);
                text = json.GetProperty("choices")[0].GetProperty("text").GetString()!;
                finish = json.GetProperty("choices")[0].GetProperty("finish_reason").GetString();
            }

            Assert.Equal(full.Text[..cut], text);
            Assert.Equal("stop", finish);
        }
    }

    [Fact]
    public async Task Seeded_sampling_is_reproducible()
    {
        JsonObject body = Api.CompletionBody(Prompt, 10);
        body["temperature"] = 0.9;
        body["top_k"] = 50;
        body["min_p"] = 0.01;
        body["seed"] = 1234;
        body["ignore_eos"] = true;
        (_, JsonElement a) = await Api.PostAsync(fx.Server, "/v1/completions", body);
        (_, JsonElement b) = await Api.PostAsync(fx.Server, "/v1/completions", body);
        Assert.Equal(a.GetProperty("choices")[0].GetProperty("text").GetString(), b.GetProperty("choices")[0].GetProperty("text").GetString());

        EngineAnswer engine = await Api.EngineAsync(fx.Engine, PromptInput.FromText(Prompt),
            new SamplingParams { Temperature = 0.9f, TopK = 50, MinP = 0.01f, Seed = 1234, MaxTokens = 10, IgnoreEos = true });
        Assert.Equal(engine.Text, a.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Legacy_logprobs_give_parallel_arrays_per_token()
    {
        JsonObject body = Api.CompletionBody(Prompt, 6);
        body["logprobs"] = 2;
        body["ignore_eos"] = true;
        (_, JsonElement json) = await Api.PostAsync(fx.Server, "/v1/completions", body);
        JsonElement lp = json.GetProperty("choices")[0].GetProperty("logprobs");
        Assert.Equal(6, lp.GetProperty("tokens").GetArrayLength());
        Assert.Equal(6, lp.GetProperty("token_logprobs").GetArrayLength());
        Assert.Equal(6, lp.GetProperty("text_offset").GetArrayLength());
        Assert.All(lp.GetProperty("token_logprobs").EnumerateArray(), v => Assert.True(v.GetDouble() <= 0));
        Assert.All(lp.GetProperty("top_logprobs").EnumerateArray(), v => Assert.InRange(v.EnumerateObject().Count(), 1, 2));
        Assert.Equal(json.GetProperty("choices")[0].GetProperty("text").GetString(), string.Concat(lp.GetProperty("tokens").EnumerateArray().Select(t => t.GetString())));
    }
}
