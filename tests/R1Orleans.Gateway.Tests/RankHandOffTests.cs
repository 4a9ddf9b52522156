using System.Runtime.CompilerServices;
using System.Threading.Channels;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway.Ranks;

namespace R1Orleans.Gateway.Tests;

/// <summary>
/// A draining rank's requests: those with many tokens left move to another rank (the stream ends with
/// RankUnavailableException and the request is stopped on this engine); those nearly done finish here.
/// </summary>
public sealed class RankHandOffTests
{
    /// <summary>
    /// An engine-like stream: yields the tokens written to <paramref name="tokens"/>, and records whether its request was
    /// cancelled; with <paramref name="slowToStop"/> a read in flight ends only with the next token, not at the cancellation.
    /// </summary>
    private sealed class Source(ChannelReader<int> tokens, bool slowToStop = false)
    {
        public bool Cancelled { get; private set; }

        public async IAsyncEnumerable<TextEvent> Run([EnumeratorCancellation] CancellationToken cancellation)
        {
            using CancellationTokenRegistration r = cancellation.Register(() => Cancelled = true);
            await foreach (int t in tokens.ReadAllAsync(slowToStop ? CancellationToken.None : cancellation))
            {
                yield return new TextEvent(t, "x", "", "x", null, null, null, new Usage(4, 0), null);
            }
        }
    }

    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_request_with_many_tokens_left_is_handed_off_when_the_drain_begins_and_stopped_on_this_engine()
    {
        var tokens = Channel.CreateUnbounded<int>();
        var source = new Source(tokens.Reader);
        using var drain = new CancellationTokenSource();
        var received = new List<int>();
        await using IAsyncEnumerator<TextEvent> stream = RankHandOff.Run("r0", source.Run, made: 0, maxTokens: 100, drain.Token).GetAsyncEnumerator();
        for (int i = 0; i < 3; i++)
        {
            tokens.Writer.TryWrite(i);
            Assert.True(await stream.MoveNextAsync().AsTask().WaitAsync(s_bound));
            received.Add(stream.Current.Token);
        }

        Task<bool> next = stream.MoveNextAsync().AsTask();
        await drain.CancelAsync();
        var e = await Assert.ThrowsAsync<RankUnavailableException>(() => next.WaitAsync(s_bound));

        Assert.Equal([0, 1, 2], received);
        Assert.Equal("r0", e.Rank);
        Assert.Contains("draining", e.Message, StringComparison.Ordinal);
        Assert.True(source.Cancelled, "the request kept running on the draining engine");
    }

    [Fact]
    public async Task A_request_with_few_tokens_left_finishes_on_the_draining_rank()
    {
        var tokens = Channel.CreateUnbounded<int>();
        var source = new Source(tokens.Reader);
        using var drain = new CancellationTokenSource();
        int made = 10, maxTokens = 10 + 2 + RankHandOff.FinishAtMostRemaining;
        await using IAsyncEnumerator<TextEvent> stream = RankHandOff.Run("r0", source.Run, made, maxTokens, drain.Token).GetAsyncEnumerator();
        tokens.Writer.TryWrite(10);
        tokens.Writer.TryWrite(11);
        Assert.True(await stream.MoveNextAsync().AsTask().WaitAsync(s_bound));
        Assert.True(await stream.MoveNextAsync().AsTask().WaitAsync(s_bound));

        // 16 left: at most FinishAtMostRemaining, so it stays.
        Task<bool> next = stream.MoveNextAsync().AsTask();
        await drain.CancelAsync();
        tokens.Writer.TryWrite(12);
        Assert.True(await next.WaitAsync(s_bound));
        Assert.Equal(12, stream.Current.Token);
        tokens.Writer.Complete();
        Assert.False(await stream.MoveNextAsync().AsTask().WaitAsync(s_bound));
        Assert.False(source.Cancelled);
    }

    [Fact]
    public async Task A_caller_giving_up_as_the_drain_begins_ends_the_stream_cancelled_and_stops_the_request()
    {
        var tokens = Channel.CreateUnbounded<int>();
        var source = new Source(tokens.Reader, slowToStop: true);
        using var drain = new CancellationTokenSource();
        using var caller = new CancellationTokenSource();
        await using IAsyncEnumerator<TextEvent> stream = RankHandOff.Run("r0", source.Run, made: 0, maxTokens: 100, drain.Token).GetAsyncEnumerator(caller.Token);
        tokens.Writer.TryWrite(0);
        Assert.True(await stream.MoveNextAsync().AsTask().WaitAsync(s_bound));

        // Both at once (a silo shutting down cancels its callers' calls too): the engine's stream is still being read.
        Task<bool> next = stream.MoveNextAsync().AsTask();
        await caller.CancelAsync();
        await drain.CancelAsync();
        _ = Task.Delay(200).ContinueWith(_ => tokens.Writer.TryWrite(1), TaskScheduler.Default);
        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => next.WaitAsync(s_bound));

        Assert.True(e is OperationCanceledException or RankUnavailableException, $"{e.GetType().Name}: {e.Message}");
        Assert.True(source.Cancelled);
    }

    [Fact]
    public void The_rule_moves_a_request_only_when_more_than_the_threshold_is_left()
    {
        Assert.False(RankHandOff.ShouldMove(RankHandOff.FinishAtMostRemaining));
        Assert.True(RankHandOff.ShouldMove(RankHandOff.FinishAtMostRemaining + 1));
    }

    [Fact]
    public async Task A_request_that_starts_on_a_rank_already_draining_is_handed_off_before_its_first_token()
    {
        var tokens = Channel.CreateUnbounded<int>();
        var source = new Source(tokens.Reader);
        using var drain = new CancellationTokenSource();
        await drain.CancelAsync();
        await using IAsyncEnumerator<TextEvent> stream = RankHandOff.Run("r1", source.Run, made: 0, maxTokens: 64, drain.Token).GetAsyncEnumerator();
        await Assert.ThrowsAsync<RankUnavailableException>(() => stream.MoveNextAsync().AsTask().WaitAsync(s_bound));
        Assert.True(source.Cancelled);
    }
}
