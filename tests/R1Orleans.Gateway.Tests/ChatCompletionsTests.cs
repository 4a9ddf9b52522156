using System.ClientModel;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using EngineChat = R1Orleans.Text.Chat;

namespace R1Orleans.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class ChatCompletionsTests(GatewayFixture fx)
{
    private static readonly PromptInput Question = PromptInput.FromMessages([EngineChat.ChatMessage.User("What is 2+2?")]);

    [Fact]
    public async Task Non_streaming_chat_returns_the_engines_greedy_answer_with_reasoning_and_usage()
    {
        EngineAnswer expected = await Api.EngineAsync(fx.Engine, Question, SamplingParams.Greedy(12));
        ClientResult<ChatCompletion> result = await Api.Chat(fx.Server).CompleteChatAsync(
            [new UserChatMessage("What is 2+2?")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 });
        ChatCompletion c = result.Value;

        Assert.Equal(GatewayServer.ModelId, c.Model);
        Assert.StartsWith("chatcmpl-", c.Id, StringComparison.Ordinal);
        Assert.Equal(ChatMessageRole.Assistant, c.Role);
        Assert.Equal(expected.Finish == Engine.Scheduling.FinishReason.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length, c.FinishReason);
        Assert.Equal(fx.Engine.Encode(Question).Tokens.Length, c.Usage.InputTokenCount);
        Assert.Equal(expected.Usage.CompletionTokens, c.Usage.OutputTokenCount);
        Assert.Equal(c.Usage.InputTokenCount + c.Usage.OutputTokenCount, c.Usage.TotalTokenCount);
        Assert.Equal(expected.Content, string.Concat(c.Content.Select(p => p.Text)));

        // R1's template opens <think>: the random output lands in reasoning_content (the client has no property for it).
        using JsonDocument raw = JsonDocument.Parse(result.GetRawResponse().Content.ToString());
        JsonElement root = raw.RootElement;
        Assert.Equal("chat.completion", root.GetProperty("object").GetString());
        JsonElement choice = root.GetProperty("choices")[0];
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        JsonElement message = choice.GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.False(string.IsNullOrEmpty(expected.Reasoning), "the greedy answer should have reasoning text");
        Assert.Equal(expected.Reasoning, message.GetProperty("reasoning_content").GetString());
        Assert.Equal(expected.Content, message.GetProperty("content").GetString());
    }

    [Fact]
    public async Task Streaming_chat_through_the_client_matches_the_engine_and_reports_usage()
    {
        EngineAnswer expected = await Api.EngineAsync(fx.Engine, Question, SamplingParams.Greedy(12));
        var content = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (StreamingChatCompletionUpdate u in Api.Chat(fx.Server).CompleteChatStreamingAsync(
            [new UserChatMessage("What is 2+2?")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 }))
        {
            updates++;
            Assert.Equal(GatewayServer.ModelId, u.Model);
            foreach (ChatMessageContentPart p in u.ContentUpdate)
            {
                content.Append(p.Text);
            }

            finish ??= u.FinishReason;
            usage ??= u.Usage;
        }

        Assert.True(updates > 2);
        Assert.Equal(expected.Content, content.ToString());
        Assert.Equal(expected.Finish == Engine.Scheduling.FinishReason.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length, finish);
        Assert.NotNull(usage);
        Assert.Equal(expected.Usage.PromptTokens, usage.InputTokenCount);
        Assert.Equal(expected.Usage.CompletionTokens, usage.OutputTokenCount);
        Assert.Equal(expected.Usage.TotalTokens, usage.TotalTokenCount);
    }

    [Fact]
    public async Task Streamed_chunks_have_the_openai_shape_role_first_reasoning_deltas_finish_usage_then_done()
    {
        EngineAnswer expected = await Api.EngineAsync(fx.Engine, Question, SamplingParams.Greedy(12));
        JsonObject body = Api.ChatBody("What is 2+2?", 12, stream: true);
        body["stream_options"] = new JsonObject { ["include_usage"] = true };
        (HttpResponseMessage response, List<string> events) = await Api.StreamAsync(fx.Server, "/v1/chat/completions", body);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("[DONE]", events[^1]);
        JsonElement[] chunks = [.. events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.Clone())];
        string id = chunks[0].GetProperty("id").GetString()!;
        Assert.All(chunks, c =>
        {
            Assert.Equal(id, c.GetProperty("id").GetString());
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
            Assert.Equal(GatewayServer.ModelId, c.GetProperty("model").GetString());
        });

        JsonElement first = chunks[0].GetProperty("choices")[0];
        Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());

        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        foreach (JsonElement c in chunks[1..^2])
        {
            JsonElement delta = c.GetProperty("choices")[0].GetProperty("delta");
            Assert.False(delta.TryGetProperty("role", out _));
            Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
            if (delta.TryGetProperty("reasoning_content", out JsonElement r))
            {
                reasoning.Append(r.GetString());
            }

            if (delta.TryGetProperty("content", out JsonElement t))
            {
                content.Append(t.GetString());
            }
        }

        Assert.Equal(expected.Reasoning, reasoning.ToString());
        Assert.Equal(expected.Content, content.ToString());
        JsonElement final = chunks[^2].GetProperty("choices")[0];
        Assert.Equal(expected.FinishName, final.GetProperty("finish_reason").GetString());
        Assert.Empty(final.GetProperty("delta").EnumerateObject());

        JsonElement usageChunk = chunks[^1];
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        JsonElement usage = usageChunk.GetProperty("usage");
        Assert.Equal(expected.Usage.PromptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.Usage.CompletionTokens, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(expected.Usage.TotalTokens, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Without_include_usage_the_stream_has_no_usage_chunk()
    {
        (_, List<string> events) = await Api.StreamAsync(fx.Server, "/v1/chat/completions", Api.ChatBody("Hi", 4, stream: true));
        Assert.Equal("[DONE]", events[^1]);
        Assert.All(events.SkipLast(1), e => Assert.False(JsonDocument.Parse(e).RootElement.TryGetProperty("usage", out _)));
        Assert.NotEqual(JsonValueKind.Null, JsonDocument.Parse(events[^2]).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
    }

    [Fact]
    public async Task Stop_sequences_end_the_answer_before_the_stop_string()
    {
        var sampling = SamplingParams.Greedy(16) with { IgnoreEos = true };
        EngineAnswer full = await Api.EngineAsync(fx.Engine, Question, sampling);
        Assert.True(full.Reasoning.Length >= 6, $"greedy reasoning too short to pick a stop string: '{full.Reasoning}'");
        string stop = full.Reasoning.Substring(full.Reasoning.Length / 2, 2);
        int cut = full.Reasoning.IndexOf(stop, StringComparison.Ordinal);

        JsonObject body = Api.ChatBody("What is 2+2?", 16);
        body["ignore_eos"] = true;
        body["stop"] = new JsonArray(stop, "never-appears-xyz");
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, "/v1/chat/completions", body);
        Assert.Equal(200, (int)response.StatusCode);
        JsonElement choice = json.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(full.Reasoning[..cut], choice.GetProperty("message").GetProperty("reasoning_content").GetString() ?? "");

        // The same through the client's StopSequences.
        ChatCompletion c = await Api.Chat(fx.Server).CompleteChatAsync(
            [new UserChatMessage("What is 2+2?")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16, StopSequences = { stop } });
        Assert.True(c.Usage.OutputTokenCount <= 16);
        Assert.True(c.FinishReason == ChatFinishReason.Stop);
    }

#pragma warning disable OPENAI001 // Seed is marked experimental in the client.
    [Fact]
    public async Task Same_seed_gives_the_same_sampled_text_and_n_choices_use_seed_plus_index()
    {
        ChatClient client = Api.Chat(fx.Server);
        ChatMessage[] messages = [new UserChatMessage("Tell me a story")];
        var options = new ChatCompletionOptions { Temperature = 1.0f, TopP = 0.95f, MaxOutputTokenCount = 10, Seed = 42 };
        string a = (await client.CompleteChatAsync(messages, options)).GetRawResponse().Content.ToString();
        string b = (await client.CompleteChatAsync(messages, options)).GetRawResponse().Content.ToString();
        Assert.Equal(Message(a, 0), Message(b, 0));

        options.Seed = 43;
        string c = (await client.CompleteChatAsync(messages, options)).GetRawResponse().Content.ToString();

        JsonObject body = Api.ChatBody("Tell me a story", 10);
        body["temperature"] = 1.0;
        body["top_p"] = 0.95;
        body["seed"] = 42;
        body["n"] = 2;
        (_, JsonElement both) = await Api.PostAsync(fx.Server, "/v1/chat/completions", body);
        Assert.Equal(2, both.GetProperty("choices").GetArrayLength());
        Assert.Equal(Message(a, 0), Message(both.GetRawText(), 0));
        Assert.Equal(Message(c, 0), Message(both.GetRawText(), 1));
        Assert.Equal(
            UsageOf(a).Completion + UsageOf(c).Completion,
            both.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(UsageOf(a).Prompt, both.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        static string Message(string json, int index)
        {
            JsonElement m = JsonDocument.Parse(json).RootElement.GetProperty("choices")[index].GetProperty("message");
            return m.GetProperty("reasoning_content").GetString() + "|" + m.GetProperty("content").GetString();
        }

        static (int Prompt, int Completion) UsageOf(string json)
        {
            JsonElement u = JsonDocument.Parse(json).RootElement.GetProperty("usage");
            return (u.GetProperty("prompt_tokens").GetInt32(), u.GetProperty("completion_tokens").GetInt32());
        }
    }
#pragma warning restore OPENAI001

    [Fact]
    public async Task Logprobs_report_every_token_with_its_alternatives()
    {
        ChatCompletion c = await Api.Chat(fx.Server).CompleteChatAsync(
            [new UserChatMessage("What is 2+2?")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 8, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 });
        Assert.Equal(c.Usage.OutputTokenCount, c.ContentTokenLogProbabilities.Count);
        Assert.All(c.ContentTokenLogProbabilities, t =>
        {
            Assert.True(t.LogProbability <= 0);
            Assert.NotNull(t.Utf8Bytes);
            Assert.Equal(3, t.TopLogProbabilities.Count);

            // Greedy: the chosen token is the most likely one.
            Assert.Equal(t.TopLogProbabilities[0].Token, t.Token);
            Assert.Equal(t.TopLogProbabilities[0].LogProbability, t.LogProbability, 5);
            Assert.True(t.TopLogProbabilities[0].LogProbability >= t.TopLogProbabilities[1].LogProbability);
        });

        // Streaming carries the same logprobs, spread over the chunks.
        var streamed = new List<ChatTokenLogProbabilityDetails>();
        await foreach (StreamingChatCompletionUpdate u in Api.Chat(fx.Server).CompleteChatStreamingAsync(
            [new UserChatMessage("What is 2+2?")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 8, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 }))
        {
            streamed.AddRange(u.ContentTokenLogProbabilities);
        }

        Assert.Equal(c.ContentTokenLogProbabilities.Select(t => (t.Token, t.LogProbability)), streamed.Select(t => (t.Token, t.LogProbability)));
    }

    [Fact]
    public async Task Tools_and_tool_call_history_render_through_the_template()
    {
        ChatTool weather = ChatTool.CreateFunctionTool(
            "get_weather",
            "Gets the weather",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        ChatMessage[] messages =
        [
            new SystemChatMessage("You are terse."),
            new UserChatMessage("Weather in Paris?"),
            new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall("call_1", "get_weather", BinaryData.FromString("""{"city":"Paris"}"""))]),
            new ToolChatMessage("call_1", "sunny, 21C"),
        ];
        ChatCompletion c = await Api.Chat(fx.Server).CompleteChatAsync(messages, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 4, Tools = { weather } });

        PromptInput same = PromptInput.FromMessages(
        [
            EngineChat.ChatMessage.System("You are terse."),
            EngineChat.ChatMessage.User("Weather in Paris?"),
            EngineChat.ChatMessage.Assistant(null, [EngineChat.ToolCall.Function("get_weather", """{"city":"Paris"}""", "call_1")]),
            EngineChat.ChatMessage.Tool("sunny, 21C", "call_1"),
        ]);
        Assert.Equal(fx.Engine.Encode(same).Tokens.Length, c.Usage.InputTokenCount);
    }

    [Fact]
    public async Task Content_parts_are_joined_and_developer_is_a_system_message()
    {
        var parts = new JsonObject
        {
            ["model"] = GatewayServer.ModelId,
            ["max_tokens"] = 2,
            ["temperature"] = 0,
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "developer", ["content"] = "Be brief." },
                new JsonObject
                {
                    ["role"] = "user",
                    ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "What is " }, new JsonObject { ["type"] = "text", ["text"] = "2+2?" }),
                }),
        };
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, "/v1/chat/completions", parts);
        Assert.Equal(200, (int)response.StatusCode);
        int expected = fx.Engine.Encode(PromptInput.FromMessages([EngineChat.ChatMessage.System("Be brief."), EngineChat.ChatMessage.User("What is 2+2?")])).Tokens.Length;
        Assert.Equal(expected, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task N_streamed_choices_each_open_with_a_role_and_end_with_a_finish_reason()
    {
        JsonObject body = Api.ChatBody("Hi", 5, stream: true);
        body["n"] = 3;
        body["stream_options"] = new JsonObject { ["include_usage"] = true };
        (_, List<string> events) = await Api.StreamAsync(fx.Server, "/v1/chat/completions", body);
        Assert.Equal("[DONE]", events[^1]);
        var choices = events.SkipLast(2).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        for (int i = 0; i < 3; i++)
        {
            var mine = choices.Where(c => c.GetProperty("index").GetInt32() == i).ToList();
            Assert.Equal("assistant", mine[0].GetProperty("delta").GetProperty("role").GetString());
            Assert.NotEqual(JsonValueKind.Null, mine[^1].GetProperty("finish_reason").ValueKind);
            Assert.Single(mine, c => c.GetProperty("finish_reason").ValueKind != JsonValueKind.Null);
        }

        JsonElement usage = JsonDocument.Parse(events[^2]).RootElement.GetProperty("usage");
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
    }
}
