using System.Runtime.CompilerServices;
using R1Orleans.Cluster.Ranks;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway.Ranks;
using R1Orleans.Grains.Ranks;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// How another silo's rank ends a stream that fails: a failure of the rank (its silo lost, or anything that is not
/// about the request) becomes <see cref="RankUnavailableException"/>, so the gateway resumes the request on another rank
/// instead of failing it; an error of the request itself reaches the client as it is; the client's own cancellation too.
/// </summary>
public sealed class RemoteRankTests
{
    private static readonly EncodedPrompt Prompt = new([3, 1, 4], true, false);

    public static TheoryData<string> RankFailures => ["engine-stopped", "disposed", "aggregate", "overloaded", "cancelled-there"];

    [Theory]
    [MemberData(nameof(RankFailures))]
    public async Task A_rank_failing_for_a_reason_other_than_the_request_hands_it_to_another_rank(string failure)
    {
        Exception thrown = failure switch
        {
            "engine-stopped" => new InvalidOperationException("this silo's model is still loading"),
            "disposed" => new ObjectDisposedException("InferenceEngine"),
            "aggregate" => new AggregateException(new IOException("connection reset")),
            "cancelled-there" => new OperationCanceledException("the silo is stopping"),
            _ => new EngineOverloadedException("the waiting queue is full"),
        };
        var rank = new RemoteRank("S127.0.0.1:1:1", new FailingRankGrain(tokensFirst: 2, thrown), CancellationToken.None);

        var tokens = new List<int>();
        RankUnavailableException lost = await Assert.ThrowsAsync<RankUnavailableException>(async () =>
        {
            await foreach (TextEvent e in rank.GenerateAsync(Prompt, new SamplingParams(), CancellationToken.None))
            {
                tokens.Add(e.Token);
            }
        });

        Assert.Equal([0, 1], tokens);
        Assert.Same(thrown, lost.InnerException);
        Assert.Contains(thrown.Message, lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_of_the_request_itself_reaches_the_caller_as_it_is()
    {
        var invalid = new SamplingParamException("max_tokens", "the request already has its 64 tokens: nothing to resume");
        var rank = new RemoteRank("S127.0.0.1:1:1", new FailingRankGrain(tokensFirst: 0, invalid), CancellationToken.None);

        SamplingParamException e = await Assert.ThrowsAsync<SamplingParamException>(async () =>
        {
            await foreach (TextEvent _ in rank.ResumeAsync(Prompt, new RequestState("r", [3, 1, 4], [7], new SamplingParams(), 5), CancellationToken.None))
            {
            }
        });
        Assert.Same(invalid, e);
    }

    [Fact]
    public async Task The_callers_cancellation_ends_the_stream_as_a_cancellation()
    {
        using var cancel = new CancellationTokenSource();
        var rank = new RemoteRank("S127.0.0.1:1:1", new FailingRankGrain(tokensFirst: 1, new InvalidOperationException("unused")) { Hang = true }, CancellationToken.None);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (TextEvent _ in rank.GenerateAsync(Prompt, new SamplingParams(), cancel.Token))
            {
                await cancel.CancelAsync();
            }
        });
    }

    /// <summary>A rank grain whose streams yield some tokens, then throw (or hang until cancelled).</summary>
    private sealed class FailingRankGrain(int tokensFirst, Exception failure) : IRankGrain
    {
        public bool Hang { get; init; }

        public IAsyncEnumerable<RankEvent> Generate(RankRequest request, CancellationToken cancellation = default) => Stream(cancellation);

        public IAsyncEnumerable<RankEvent> Resume(RankRequest request, int[] generated, ulong seed, CancellationToken cancellation = default) => Stream(cancellation);

        public Task<string> ModelHash() => Task.FromResult("hash");

        public Task<RankLoad> Load() => Task.FromResult(new RankLoad(0, 0, 1, true));

        public Task<RankReport> Report() => throw new NotSupportedException();

        public Task<string> Drain() => throw new NotSupportedException();

        public Task<long> ApplyGateBias(R1Orleans.Grains.Balancing.GateBiasDto bias) => throw new NotSupportedException();

        public Task<R1Orleans.Grains.Balancing.GateBiasDto?> CurrentGateBias() => throw new NotSupportedException();

        public Task InjectReplyDelay(int delayMs, int durationMs) => throw new NotSupportedException();

        private async IAsyncEnumerable<RankEvent> Stream([EnumeratorCancellation] CancellationToken cancellation)
        {
            for (int i = 0; i < tokensFirst; i++)
            {
                await Task.Yield();
                yield return new RankEvent(i, $"t{i}", "", $"t{i}", null, null, null, null, 3, i + 1, null);
            }

            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, cancellation);
            }

            throw failure;
        }
    }
}
