using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway.Ranks;

namespace R1Orleans.Gateway.Tests;

/// <summary>The gateway's side of data parallelism: it runs each request on the rank its router picks and keeps the request's state.</summary>
[Collection(GatewayCollection.Name)]
public sealed class RankRoutingTests(GatewayFixture fx)
{
    private const string Prompt = "The quick brown fox";

    [Fact]
    public async Task Each_request_runs_on_the_rank_the_router_picks_with_a_seed_the_gateway_chose()
    {
        var router = new RecordingRouter([new RecordingRank("a", fx.Engine), new RecordingRank("b", fx.Engine)]);
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, services: s => s.AddSingleton<IRankRouter>(router));
        JsonObject body = Api.CompletionBody(Prompt, 5);
        body["temperature"] = 0.9;
        for (int i = 0; i < 2; i++)
        {
            (HttpResponseMessage response, _) = await Api.PostAsync(server, "/v1/completions", body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        SamplingParams a = Assert.Single(router.Ranks[0].Samplings);
        SamplingParams b = Assert.Single(router.Ranks[1].Samplings);
        Assert.NotNull(a.Seed);
        Assert.NotNull(b.Seed);
        Assert.NotEqual(a.Seed, b.Seed);

        // A seed asked for is the one used (choice i gets seed + i).
        body["seed"] = 77;
        body["n"] = 2;
        await Api.PostAsync(server, "/v1/completions", body);
        Assert.Equal([77UL, 78UL], router.Ranks[0].Samplings.Skip(1).Select(s => s.Seed!.Value));
    }

    [Fact]
    public async Task The_gateway_holds_a_running_requests_prompt_seed_and_tokens_so_far_and_forgets_it_when_it_ends()
    {
        var rank = new RecordingRank("held", fx.Engine) { PauseAfter = 3 };
        var router = new RecordingRouter([rank]);
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, services: s => s.AddSingleton<IRankRouter>(router));
        RequestTable table = server.Services.GetRequiredService<RequestTable>();
        JsonObject body = Api.CompletionBody(Prompt, 8);
        body["temperature"] = 0.9;
        body["seed"] = 5;
        body["ignore_eos"] = true;
        Task<(HttpResponseMessage, JsonElement)> post = Api.PostAsync(server, "/v1/completions", body);

        await rank.Paused.Task.WaitAsync(TimeSpan.FromSeconds(60));
        TrackedRequest tracked = Assert.Single(table.Running);
        RequestState state = tracked.Snapshot();
        Assert.Equal("held", tracked.Rank);
        Assert.Equal(5UL, state.Seed);
        Assert.Equal(rank.Tokens.Take(3), state.OutputTokens);
        Assert.Equal(fx.Engine.Encode(PromptInput.FromText(Prompt)).Tokens, state.PromptTokens);
        Assert.Matches("""r1orleans:gateway_requests_by_rank\{rank="held"\} 1\b""", await server.Http.GetStringAsync("/metrics"));

        rank.Resume.SetResult();
        (HttpResponseMessage response, _) = await post;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(table.Running);
        Assert.Equal(8, rank.Tokens.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_request_whose_rank_is_lost_continues_on_another_rank_with_the_uninterrupted_output(bool stream)
    {
        var sampling = new SamplingParams { Temperature = 0.9f, TopP = 0.95f, Seed = 11, MaxTokens = 12, IgnoreEos = true };
        EngineAnswer expected = await Api.EngineAsync(fx.Engine, PromptInput.FromText(Prompt), sampling);
        var dying = new RecordingRank("dying", fx.Engine) { LoseAfter = 4 };
        var survivor = new RecordingRank("survivor", fx.Engine);
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, services: s => s.AddSingleton<IRankRouter>(new RecordingRouter([dying, survivor])));

        Assert.Equal(expected.Text, await CompleteAsync(server, sampling, stream));
        RequestState resumed = Assert.Single(survivor.Resumed);
        Assert.Equal(dying.Tokens, resumed.OutputTokens);
        Assert.Equal(11UL, resumed.Seed);
        Assert.Matches(@"r1orleans:requests_resumed_total\{[^}]*\} [1-9]", await server.Http.GetStringAsync("/metrics"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_request_whose_rank_is_lost_after_its_finish_event_answers_complete_and_is_not_resumed(bool stream)
    {
        // A silo killed just as a request ended: its finish event reached the gateway, the stream's close did not.
        var sampling = new SamplingParams { Temperature = 0.9f, TopP = 0.95f, Seed = 13, MaxTokens = 6, IgnoreEos = true };
        EngineAnswer expected = await Api.EngineAsync(fx.Engine, PromptInput.FromText(Prompt), sampling);
        var dying = new RecordingRank("dying", fx.Engine) { LoseAfterFinish = true };
        var survivor = new RecordingRank("survivor", fx.Engine);
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, services: s => s.AddSingleton<IRankRouter>(new RecordingRouter([dying, survivor])));

        Assert.Equal(expected.Text, await CompleteAsync(server, sampling, stream));
        Assert.Equal(6, dying.Tokens.Count);
        Assert.Empty(survivor.Resumed);
        Assert.Empty(survivor.Samplings);
    }

    /// <summary>
    /// A completion of <see cref="Prompt"/> with these sampling settings through the API, streamed or not; asserts it
    /// answered 200 with every token (and, streamed, no error event before [DONE]); returns its text.
    /// </summary>
    private static async Task<string> CompleteAsync(GatewayServer server, SamplingParams sampling, bool stream)
    {
        JsonObject body = Api.CompletionBody(Prompt, sampling.MaxTokens, stream);
        body["temperature"] = sampling.Temperature;
        body["top_p"] = sampling.TopP;
        body["seed"] = sampling.Seed;
        body["ignore_eos"] = sampling.IgnoreEos;
        if (stream)
        {
            (HttpResponseMessage response, List<string> events) = await Api.StreamAsync(server, "/v1/completions", body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("[DONE]", events[^1]);
            Assert.DoesNotContain(events, e => e.Contains("\"error\"", StringComparison.Ordinal));
            return string.Concat(events.Where(e => e != "[DONE]").Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        }

        (HttpResponseMessage posted, JsonElement json) = await Api.PostAsync(server, "/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(sampling.MaxTokens, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        return json.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    [Fact]
    public async Task Health_is_unavailable_while_the_router_says_what_is_missing_and_a_full_cluster_is_a_429()
    {
        var router = new RecordingRouter([]) { UnreadyReason = "layer 1 expert 3 has no live holder (held by s2)" };
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, services: s => s.AddSingleton<IRankRouter>(router));
        (HttpResponseMessage health, JsonElement json) = await Api.GetAsync(server, "/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("unavailable", json.GetProperty("status").GetString());
        Assert.Equal(router.UnreadyReason, json.GetProperty("detail").GetString());

        (HttpResponseMessage busy, JsonElement error) = await Api.PostAsync(server, "/v1/completions", Api.CompletionBody(Prompt, 5));
        Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
        Assert.Contains("no rank has room (test)", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_every_rank_turns_away_as_full_fails_as_busy_not_as_a_server_error()
    {
        var first = new RecordingRank("first", fx.Engine) { Full = true };
        var second = new RecordingRank("second", fx.Engine) { Full = true };
        await using GatewayServer server = await GatewayServer.StartAsync(fx.Engine, services: s => s.AddSingleton<IRankRouter>(new RecordingRouter([first, second])));

        (HttpResponseMessage busy, JsonElement error) = await Api.PostAsync(server, "/v1/completions", Api.CompletionBody(Prompt, 5));

        Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
        Assert.Contains("waiting queue is full (test)", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal((1, 1), (first.Samplings.Count + first.Resumed.Count, second.Samplings.Count + second.Resumed.Count));
    }

    /// <summary>Picks its ranks in turn (none: every rank is full).</summary>
    private sealed class RecordingRouter(RecordingRank[] ranks) : IRankRouter
    {
        private int _next;

        public RecordingRank[] Ranks => ranks;

        public string? UnreadyReason { get; init; }

        public string? Unready => UnreadyReason;

        public IRank? Pick(int count, int maxWaiting, IReadOnlyCollection<string>? exclude = null)
        {
            RecordingRank[] open = [.. ranks.Where(r => exclude?.Contains(r.Name) != true)];
            return open.Length == 0 ? null : open[_next++ % open.Length];
        }

        public string BusySummary(int maxWaiting) => "no rank has room (test)";
    }

    /// <summary>The engine, recording each request's sampling and tokens; optionally pausing after some tokens until resumed.</summary>
    private sealed class RecordingRank(string name, InferenceEngine engine) : IRank
    {
        public string Name => name;

        public List<SamplingParams> Samplings { get; } = [];

        public List<int> Tokens { get; } = [];

        public int PauseAfter { get; init; } = -1;

        public TaskCompletionSource Paused { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Resume { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>After this many tokens the rank is "killed": its stream ends with RankUnavailableException.</summary>
        public int LoseAfter { get; init; } = -1;

        /// <summary>After its finish event the rank is "killed": the stream ends with RankUnavailableException, not its close.</summary>
        public bool LoseAfterFinish { get; init; }

        public List<RequestState> Resumed { get; } = [];

        /// <summary>The rank turns every request away as its queue is full (as a remote rank's stream reports it).</summary>
        public bool Full { get; init; }

        public async IAsyncEnumerable<TextEvent> ResumeAsync(EncodedPrompt prompt, RequestState state, [EnumeratorCancellation] CancellationToken cancellation)
        {
            Resumed.Add(state);
            ThrowIfFull();
            await foreach (TextEvent e in engine.ResumeAsync(prompt, state, cancellation))
            {
                yield return e;
            }
        }

        public async IAsyncEnumerable<TextEvent> GenerateAsync(EncodedPrompt prompt, SamplingParams sampling, [EnumeratorCancellation] CancellationToken cancellation)
        {
            lock (Samplings)
            {
                Samplings.Add(sampling);
            }

            ThrowIfFull();

            await foreach (TextEvent e in engine.GenerateAsync(prompt, sampling, cancellation))
            {
                yield return e;
                if (e.Token >= 0)
                {
                    Tokens.Add(e.Token);
                    if (Tokens.Count == LoseAfter)
                    {
                        throw new RankUnavailableException(name, "killed by the test");
                    }

                    if (Tokens.Count == PauseAfter)
                    {
                        // The gateway has recorded this token before asking for the next one.
                        Paused.SetResult();
                        await Resume.Task.WaitAsync(cancellation);
                    }
                }

                if (e.Finish is not null && LoseAfterFinish)
                {
                    throw new RankUnavailableException(name, "killed by the test after the request's finish event");
                }
            }
        }

        private void ThrowIfFull()
        {
            if (Full)
            {
                throw new RankUnavailableException(name, "its waiting queue is full", new EngineOverloadedException("the waiting queue is full (test)"));
            }
        }
    }
}
