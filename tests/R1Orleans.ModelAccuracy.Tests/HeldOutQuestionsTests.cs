using System.ClientModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;
using R1Orleans.Silo;
using Xunit.Abstractions;

namespace R1Orleans.ModelAccuracy.Tests;

/// <summary>
/// The silo started with no --model serves the shipped trained r1orleans-tiny; asked 20 fixed held-out 3-digit additions
/// (heldout.json, made by tools/model-questions/make_questions.py from training/data.py's held-out split: none of them
/// was trained on) through the official OpenAI client, greedy, it answers at least 18 right, reasoning in
/// <c>reasoning_content</c> and the answer in <c>content</c>.
/// </summary>
public sealed class HeldOutQuestionsTests(ITestOutputHelper output)
{
    private sealed record HeldOut(string Task, string Key, string Question, string Answer);

    [Fact]
    public async Task Default_silo_serves_the_trained_model_and_answers_held_out_additions()
    {
        HeldOut[] questions = JsonSerializer.Deserialize<HeldOut[]>(
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "heldout.json")),
            new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        Assert.Equal(20, questions.Length);

        WebApplication app = SiloHost.Build(
        [
            "--urls", "http://127.0.0.1:0",
            "--silo-port", FreePort().ToString(CultureInfo.InvariantCulture),
            "--gateway-port", FreePort().ToString(CultureInfo.InvariantCulture),
            "--kv-cache-tokens", "8192",
            "--Logging:LogLevel:Default", "Warning",
        ]);
        try
        {
            await app.StartAsync();
            await app.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromSeconds(60));
            string url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var clientOptions = new OpenAIClientOptions { Endpoint = new Uri(url + "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) };

            // /v1/models names and describes the shipped model.
            var models = new OpenAI.Models.OpenAIModelClient(new ApiKeyCredential("unused"), clientOptions);
            using (JsonDocument list = JsonDocument.Parse((await models.GetModelsAsync()).GetRawResponse().Content.ToString()))
            {
                JsonElement model = Assert.Single(list.RootElement.GetProperty("data").EnumerateArray());
                Assert.Equal(ModelOptions.ShippedModelName, model.GetProperty("id").GetString());
                Assert.Contains("DeepSeek-V3", model.ToString(), StringComparison.Ordinal);
            }

            var chat = new ChatClient(ModelOptions.ShippedModelName, new ApiKeyCredential("unused"), clientOptions);
            var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 200 };
            var clock = Stopwatch.StartNew();

            // All at once: the engine batches them.
            (HeldOut Q, string Content, string Reasoning)[] answers = await Task.WhenAll(questions.Select(async q =>
            {
                ClientResult<ChatCompletion> result = await chat.CompleteChatAsync([new UserChatMessage(q.Question)], options);
                using JsonDocument raw = JsonDocument.Parse(result.GetRawResponse().Content.ToString());
                JsonElement message = raw.RootElement.GetProperty("choices")[0].GetProperty("message");
                string reasoning = message.TryGetProperty("reasoning_content", out JsonElement r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
                string content = string.Concat(result.Value.Content.Select(p => p.Text));
                return (q, content.Trim(), reasoning);
            }));

            int right = 0;
            foreach ((HeldOut q, string content, string reasoning) in answers)
            {
                bool ok = content == q.Answer && reasoning.Trim().Length > 0;
                right += ok ? 1 : 0;
                output.WriteLine($"{(ok ? "ok " : "BAD")} {q.Question} -> {content} (expected {q.Answer}; reasoning {reasoning.Length} chars)");
            }

            output.WriteLine($"{right}/{answers.Length} right in {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.True(right >= 18, $"{right}/{answers.Length} held-out additions right; at least 18 expected");
            Assert.All(answers, a => Assert.DoesNotContain("<think>", a.Content, StringComparison.Ordinal));
            Assert.Contains(answers, a => a.Reasoning.Contains(a.Q.Key.Split(':')[1], StringComparison.Ordinal));

            await ReadmeQuestionStreamsReasoningThenTheAnswerAsync(chat);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>
    /// The README's example: "What is 47 + 385?" streamed through the stock OpenAI client. Every reasoning delta
    /// (<c>delta.reasoning_content</c>, read through the client's Patch, as Microsoft.Extensions.AI.OpenAI reads it)
    /// arrives before the first content delta, and the content is the right sum.
    /// </summary>
    private async Task ReadmeQuestionStreamsReasoningThenTheAnswerAsync(ChatClient chat)
    {
        var reasoning = new System.Text.StringBuilder();
        var content = new System.Text.StringBuilder();
        int reasoningAfterContent = 0;
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 300 };
        await foreach (StreamingChatCompletionUpdate u in chat.CompleteChatStreamingAsync([new UserChatMessage("What is 47 + 385?")], options))
        {
#pragma warning disable SCME0001 // JsonPatch is marked experimental
            if (u.Patch.TryGetValue("$.choices[0].delta.reasoning_content"u8, out string? r) && !string.IsNullOrEmpty(r))
#pragma warning restore SCME0001
            {
                reasoningAfterContent += content.Length > 0 ? 1 : 0;
                reasoning.Append(r);
            }

            foreach (ChatMessageContentPart part in u.ContentUpdate)
            {
                content.Append(part.Text);
            }
        }

        output.WriteLine($"What is 47 + 385? -> reasoning {reasoning.Length} chars, content {content.ToString().Trim()}");
        Assert.Contains("432", reasoning.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, reasoningAfterContent);
        Assert.Equal("47 + 385 = 432.", content.ToString().Trim());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
