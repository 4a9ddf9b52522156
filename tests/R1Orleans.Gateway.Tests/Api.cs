using System.ClientModel;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Gateway.Tests;

/// <summary>Raw HTTP helpers (for what the OpenAI client cannot send or hides) and the engine's own answers to compare with.</summary>
internal static class Api
{
    public static ChatClient Chat(GatewayServer server, string key = "unused") =>
        new(GatewayServer.ModelId, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(server.Url + "/v1") });

    public static async Task<(HttpResponseMessage Response, JsonElement Body)> PostAsync(GatewayServer server, string path, string json, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        HttpResponseMessage response = await server.Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return (response, JsonDocument.Parse(text).RootElement.Clone());
    }

    public static Task<(HttpResponseMessage Response, JsonElement Body)> PostAsync(GatewayServer server, string path, JsonObject body, string? key = null) =>
        PostAsync(server, path, body.ToJsonString(), key);

    public static async Task<(HttpResponseMessage Response, JsonElement Body)> GetAsync(GatewayServer server, string path)
    {
        HttpResponseMessage response = await server.Http.GetAsync(path);
        string text = await response.Content.ReadAsStringAsync();
        return (response, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Posts a streaming request and returns every <c>data:</c> payload in order (the last is "[DONE]").</summary>
    public static async Task<(HttpResponseMessage Response, List<string> Events)> StreamAsync(GatewayServer server, string path, JsonObject body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        HttpResponseMessage response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? pendingBlank = null;
        while (await reader.ReadLineAsync() is string line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                Assert.Null(pendingBlank);
                events.Add(line["data: ".Length..]);
                pendingBlank = "expecting the blank line that ends the event";
            }
            else
            {
                Assert.Equal("", line);
                pendingBlank = null;
            }
        }

        return (response, events);
    }

    /// <summary>The error envelope's fields, checking its shape: exactly message, type, param, code.</summary>
    public static (string Message, string Type, string? Param, string? Code) Error(JsonElement body)
    {
        Assert.Equal(JsonValueKind.Object, body.ValueKind);
        Assert.Equal(["error"], body.EnumerateObject().Select(p => p.Name));
        JsonElement e = body.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], e.EnumerateObject().Select(p => p.Name));
        string message = e.GetProperty("message").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.DoesNotContain("   at ", message, StringComparison.Ordinal);
        return (message, e.GetProperty("type").GetString()!, e.GetProperty("param").GetString(), e.GetProperty("code").GetString());
    }

    public static JsonObject ChatBody(string user, int maxTokens, bool stream = false) => new()
    {
        ["model"] = GatewayServer.ModelId,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = user }),
        ["max_tokens"] = maxTokens,
        ["temperature"] = 0,
        ["stream"] = stream,
    };

    public static JsonObject CompletionBody(string prompt, int maxTokens, bool stream = false) => new()
    {
        ["model"] = GatewayServer.ModelId,
        ["prompt"] = prompt,
        ["max_tokens"] = maxTokens,
        ["temperature"] = 0,
        ["stream"] = stream,
    };

    /// <summary>What the engine itself generates for a prompt (the reference the gateway must reproduce).</summary>
    public static async Task<EngineAnswer> EngineAsync(InferenceEngine engine, PromptInput input, SamplingParams sampling)
    {
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        TextEvent? last = null;
        await foreach (TextEvent e in engine.GenerateAsync(input, sampling))
        {
            text.Append(e.Text);
            reasoning.Append(e.Reasoning);
            content.Append(e.Content);
            last = e;
        }

        return new EngineAnswer(text.ToString(), reasoning.ToString(), content.ToString(), last!.Finish!.Value, last.Usage);
    }
}

internal sealed record EngineAnswer(string Text, string Reasoning, string Content, FinishReason Finish, Usage Usage)
{
    public string FinishName => Finish == FinishReason.Stop ? "stop" : "length";
}
