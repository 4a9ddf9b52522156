using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace R1Orleans.Client.Tests;

/// <summary>How the fake server answers the n-th POST (1-based, counted over the server's life).</summary>
public enum FakeFailure
{
    None,

    /// <summary>HTTP 500 with an OpenAI error body.</summary>
    Http500,

    /// <summary>200, one reasoning chunk, then <c>data: {"error": ...}</c>.</summary>
    ErrorEvent,
}

public sealed record FakeBehavior
{
    public TimeSpan FirstChunkDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan ChunkDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    public string[] Reasoning { get; init; } = ["Let me think."];

    public string[] Content { get; init; } = ["Hello", ",", " world", "!"];

    /// <summary>Honors stream_options.include_usage.</summary>
    public bool ReportUsage { get; init; } = true;

    public Func<int, FakeFailure> FailureFor { get; init; } = _ => FakeFailure.None;

    public int TextChunks => Reasoning.Length + Content.Length;
}

/// <summary>
/// A tiny OpenAI-compatible server on Kestrel (127.0.0.1, any free port): /v1/models, and /v1/chat/completions and
/// /v1/completions streaming fixed reasoning and content chunks with delays, with usage and [DONE], or failing on demand.
/// </summary>
public sealed class FakeOpenAiServer : IAsyncDisposable
{
    public const string ModelsJson = """{"object":"list","data":[{"id":"fake-r1","object":"model","owned_by":"tests","created":1700000000},{"id":"other-model","object":"model"}]}""";

    private readonly WebApplication _app;
    private readonly FakeBehavior _behavior;
    private int _posts;

    private FakeOpenAiServer(WebApplication app, FakeBehavior behavior, string url)
    {
        _app = app;
        _behavior = behavior;
        Url = url;
    }

    public string Url { get; }

    /// <summary>Every POST body, in arrival order, with its path.</summary>
    public ConcurrentQueue<(string Path, JsonObject Body, string? Authorization)> Requests { get; } = new();

    public int Posts => Volatile.Read(ref _posts);

    public static async Task<FakeOpenAiServer> StartAsync(FakeBehavior? behavior = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        FakeOpenAiServer? server = null;
        app.MapGet("/v1/models", () => Results.Text(ModelsJson, "application/json"));
        app.MapPost("/v1/chat/completions", (HttpContext ctx) => server!.HandleAsync(ctx, chat: true));
        app.MapPost("/v1/completions", (HttpContext ctx) => server!.HandleAsync(ctx, chat: false));
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FakeOpenAiServer(app, behavior ?? new FakeBehavior(), address);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext ctx, bool chat)
    {
        try
        {
            await AnswerAsync(ctx, chat);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away (a timeout test).
        }
    }

    private async Task AnswerAsync(HttpContext ctx, bool chat)
    {
        int n = Interlocked.Increment(ref _posts);
        var body = (JsonObject)(await JsonNode.ParseAsync(ctx.Request.Body))!;
        Requests.Enqueue((ctx.Request.Path.Value!, body, ctx.Request.Headers.Authorization.FirstOrDefault()));
        FakeFailure failure = _behavior.FailureFor(n);
        if (failure == FakeFailure.Http500)
        {
            ctx.Response.StatusCode = 500;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync("""{"error":{"message":"overloaded","type":"server_error"}}""");
            return;
        }

        string model = body["model"]?.GetValue<string>() ?? "";
        if (body["stream"]?.GetValue<bool>() != true)
        {
            var message = new JsonObject { ["role"] = "assistant", ["content"] = string.Concat(_behavior.Content), ["reasoning_content"] = string.Concat(_behavior.Reasoning) };
            JsonObject choice = chat
                ? new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = "stop" }
                : new JsonObject { ["index"] = 0, ["text"] = string.Concat(_behavior.Content), ["finish_reason"] = "stop" };
            var whole = new JsonObject
            {
                ["id"] = "cmpl-1",
                ["model"] = model,
                ["choices"] = new JsonArray(choice),
                ["usage"] = new JsonObject { ["prompt_tokens"] = 7, ["completion_tokens"] = _behavior.TextChunks },
            };
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(whole.ToJsonString());
            return;
        }

        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        await ctx.Response.Body.FlushAsync();
        await Task.Delay(_behavior.FirstChunkDelay, ctx.RequestAborted);
        await WriteAsync(ctx, ": a comment the client must skip\r\n\r\n");
        bool first = true;
        foreach (string r in _behavior.Reasoning)
        {
            await Pause(first);
            first = false;
            await WriteAsync(ctx, Event(Chunk(chat, model, content: null, reasoning: r, finish: null)));
            if (failure == FakeFailure.ErrorEvent)
            {
                await WriteAsync(ctx, "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n");
                return;
            }
        }

        foreach (string c in _behavior.Content)
        {
            await Pause(first);
            first = false;
            await WriteAsync(ctx, Event(Chunk(chat, model, content: c, reasoning: null, finish: null)));
        }

        await WriteAsync(ctx, Event(Chunk(chat, model, content: null, reasoning: null, finish: "length")));
        bool includeUsage = body["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
        if (includeUsage && _behavior.ReportUsage)
        {
            string prompt = chat ? body["messages"]!.AsArray().Last()!["content"]!.GetValue<string>() : body["prompt"]!.GetValue<string>();
            var usage = new JsonObject
            {
                ["id"] = "cmpl-1",
                ["choices"] = new JsonArray(),
                ["usage"] = new JsonObject { ["prompt_tokens"] = prompt.Split(' ').Length, ["completion_tokens"] = _behavior.TextChunks },
            };
            await WriteAsync(ctx, Event(usage.ToJsonString()));
        }

        await WriteAsync(ctx, "data: [DONE]\n\n");

        async Task Pause(bool isFirst)
        {
            if (!isFirst)
            {
                await Task.Delay(_behavior.ChunkDelay, ctx.RequestAborted);
            }
        }
    }

    private static string Chunk(bool chat, string model, string? content, string? reasoning, string? finish)
    {
        JsonObject choice;
        if (chat)
        {
            var delta = new JsonObject();
            if (content is not null)
            {
                delta["content"] = content;
            }

            if (reasoning is not null)
            {
                delta["reasoning_content"] = reasoning;
            }

            choice = new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish };
        }
        else
        {
            // The completions API has no reasoning field: reasoning text is sent as text.
            choice = new JsonObject { ["index"] = 0, ["text"] = content ?? reasoning ?? "", ["finish_reason"] = finish };
        }

        return new JsonObject { ["id"] = "cmpl-1", ["object"] = chat ? "chat.completion.chunk" : "text_completion", ["model"] = model, ["choices"] = new JsonArray(choice) }.ToJsonString();
    }

    private static string Event(string json) => "data: " + json + "\n\n";

    private static async Task WriteAsync(HttpContext ctx, string text)
    {
        await ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }
}
