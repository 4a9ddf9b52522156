using System.Diagnostics;
using System.Threading.Channels;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway.Ranks;

namespace R1Orleans.Gateway;

/// <summary>What the engine is asked for: its input, the prompt's length, one sampling per choice (n of them), and the rank that runs them.</summary>
internal sealed record GenerationPlan(EncodedPrompt Prompt, int PromptTokens, SamplingParams[] Samplings, IRank Rank);

/// <summary>One event of one choice, or the exception that ended that choice's stream.</summary>
internal readonly record struct ChoiceEvent(int Index, TextEvent? Event, Exception? Exception);

/// <summary>
/// The n engine requests of one HTTP request, running concurrently, their events merged into one channel in arrival
/// order. Each choice's stream is cancelled when the client goes away (RequestAborted) or when the run is disposed, so
/// the engine frees its KV blocks at its next step. Records the latency metrics of each choice, and keeps each choice's
/// state in the gateway's <see cref="RequestTable"/> while it runs.
/// </summary>
internal sealed class GenerationRun : IDisposable
{
    private readonly Channel<ChoiceEvent> _events = Channel.CreateUnbounded<ChoiceEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _cts;
    private readonly GatewayMetrics _metrics;
    private readonly RequestTable _requests;
    private readonly IRankRouter _ranks;
    private readonly long _start;
    private int _live;

    public GenerationRun(GenerationPlan plan, GatewayMetrics metrics, RequestTable requests, IRankRouter ranks, long startTimestamp, CancellationToken aborted)
    {
        _ranks = ranks;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        _metrics = metrics;
        _requests = requests;
        _start = startTimestamp;
        _live = plan.Samplings.Length;
        for (int i = 0; i < plan.Samplings.Length; i++)
        {
            // Runs synchronously up to the first wait, so choice i is queued before choice i + 1.
            _ = PumpAsync(plan, i);
        }
    }

    public ChannelReader<ChoiceEvent> Events => _events.Reader;

    /// <summary>Stops every choice still running (idempotent).</summary>
    public void Dispose()
    {
        try
        {
            _cts.Cancel();
        }
        catch (AggregateException)
        {
            // A registration callback failed; the engine's own Cancel does not throw.
        }

        _cts.Dispose();
    }

    private async Task PumpAsync(GenerationPlan plan, int index)
    {
        long last = 0;
        bool finished = false;
        Usage usage = new(plan.PromptTokens, 0);
        using TrackedRequest tracked = _requests.Start(plan.Rank.Name, plan.Prompt.Tokens, plan.Samplings[index]);
        IRank rank = plan.Rank;
        IAsyncEnumerable<TextEvent> stream = rank.GenerateAsync(plan.Prompt, plan.Samplings[index], _cts.Token);
        List<string>? lost = null;
        try
        {
            while (true)
            {
                try
                {
                    await foreach (TextEvent e in stream.ConfigureAwait(false))
                    {
                        usage = e.Usage;
                        long now = Stopwatch.GetTimestamp();
                        if (e.Token >= 0)
                        {
                            tracked.Append(e.Token);
                            if (last == 0)
                            {
                                _metrics.RecordFirstToken(Stopwatch.GetElapsedTime(_start, now).TotalSeconds);
                            }
                            else
                            {
                                _metrics.RecordInterToken(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                            }

                            last = now;
                        }

                        if (e.Finish is FinishReason finish)
                        {
                            finished = true;
                            _metrics.RecordFinished(finish, Stopwatch.GetElapsedTime(_start, now).TotalSeconds, e.Usage);
                        }

                        _events.Writer.TryWrite(new ChoiceEvent(index, e, null));
                    }

                    break;
                }
                catch (RankUnavailableException) when (finished)
                {
                    // The choice is complete (its finish event is here); only the stream's close was lost with the rank
                    // (a silo killed as the request ended). Nothing is left to resume, and nothing failed.
                    break;
                }
                catch (RankUnavailableException lostRank) when (!_cts.IsCancellationRequested)
                {
                    // The rank is gone: the request continues on another from what the gateway holds (prompt, tokens so
                    // far, seed). The client's stream goes on with the next token: none repeated, none missing.
                    (lost ??= []).Add(rank.Name);
                    // With none left, a rank that turned it away as full makes the request busy (429, retry later).
                    rank = _ranks.Pick(1, int.MaxValue / 2, lost)
                        ?? throw (lostRank.InnerException is EngineOverloadedException full
                            ? full
                            : new InvalidOperationException($"{lostRank.Message}, and no other rank is left to resume the request on", lostRank));
                    RequestState state = tracked.Snapshot();
                    tracked.Rank = rank.Name;
                    _metrics.RecordResumed(state.PromptTokens.Length + state.OutputTokens.Length);
                    stream = rank.ResumeAsync(plan.Prompt, state, _cts.Token);
                }
            }
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
            // The client went away or the response ended: the engine ends this choice (Abort) and frees its blocks at its
            // next step; the stream may stop before that event arrives.
            if (!finished)
            {
                _metrics.RecordFinished(FinishReason.Abort, Stopwatch.GetElapsedTime(_start).TotalSeconds, usage);
            }
        }
        catch (Exception e)
        {
            _events.Writer.TryWrite(new ChoiceEvent(index, null, e));
        }
        finally
        {
            if (Interlocked.Decrement(ref _live) == 0)
            {
                _events.Writer.TryComplete();
            }
        }
    }
}
