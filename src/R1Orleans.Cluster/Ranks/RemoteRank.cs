using System.Runtime.CompilerServices;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway.Ranks;
using R1Orleans.Grains.Ranks;

namespace R1Orleans.Cluster.Ranks;

/// <summary>
/// Another silo's rank: the request goes to its <see cref="IRankGrain"/> and the tokens stream back as it makes them.
/// When the silo is lost (Orleans cannot reach it, or <paramref name="lost"/> fires: membership or the load poll gave
/// up on it), the stream ends with a <see cref="RankUnavailableException"/> and the gateway resumes the request elsewhere.
/// So does any other failure that is not about the request itself (its engine stopping, a full queue, an error Orleans
/// wraps): nothing is lost that another rank can serve, and the gateway tries each rank once. Errors of the request
/// (an <see cref="ArgumentException"/>: bad sampling parameters, a context overflow) reach the client as they are.
/// </summary>
public sealed class RemoteRank(string name, IRankGrain grain, CancellationToken lost) : IRank
{
    public string Name => name;

    public IAsyncEnumerable<TextEvent> GenerateAsync(EncodedPrompt prompt, SamplingParams sampling, CancellationToken cancellation) =>
        StreamAsync(c => grain.Generate(RankWire.Request(prompt, sampling), c), cancellation);

    public IAsyncEnumerable<TextEvent> ResumeAsync(EncodedPrompt prompt, RequestState state, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(state);
        return StreamAsync(c => grain.Resume(RankWire.Request(prompt, state.Sampling), state.OutputTokens, state.Seed, c), cancellation);
    }

    private async IAsyncEnumerable<TextEvent> StreamAsync(Func<CancellationToken, IAsyncEnumerable<RankEvent>> call, [EnumeratorCancellation] CancellationToken cancellation)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, lost);

        // Batches of one: each token is forwarded as soon as the rank makes it.
        IAsyncEnumerator<RankEvent> events = call(linked.Token).WithBatchSize(1).GetAsyncEnumerator(linked.Token);
        bool abandoned = false;
        try
        {
            while (true)
            {
                RankEvent e;
                try
                {
                    // Waited with the token here too: a call in flight to a silo that died is answered only at Orleans'
                    // response timeout, and a lost rank must not hold its requests that long.
                    if (!await events.MoveNextAsync().AsTask().WaitAsync(linked.Token).ConfigureAwait(false))
                    {
                        yield break;
                    }

                    e = events.Current;
                }
                catch (OperationCanceledException) when (lost.IsCancellationRequested && !cancellation.IsCancellationRequested)
                {
                    abandoned = true;
                    throw new RankUnavailableException(name, "the cluster declared its silo lost");
                }
                catch (Exception ex) when (!IsRequestError(ex) && !cancellation.IsCancellationRequested)
                {
                    abandoned = true;
                    throw new RankUnavailableException(name, IsLoss(ex) ? ex.Message : $"it failed the request ({ex.GetType().Name}: {ex.Message})", ex);
                }

                if (e.HandedOff)
                {
                    throw new RankUnavailableException(name, "it is draining and handed the request back");
                }

                yield return RankWire.Event(e);
            }
        }
        finally
        {
            if (abandoned || lost.IsCancellationRequested)
            {
                // Its silo is gone: dispose in the background (that call, too, would wait for the response timeout).
                _ = events.DisposeAsync().AsTask().ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            }
            else
            {
                await events.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>An error of the request itself, which every rank would give (not a reason to try another).</summary>
    private static bool IsRequestError(Exception e) => e is ArgumentException;

    /// <summary>Orleans' ways of saying the silo is gone or unreachable (not an error of the request itself).</summary>
    private static bool IsLoss(Exception e) =>
        e is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException or EnumerationAbortedException
        || (e is OrleansException && e.InnerException is not null && IsLoss(e.InnerException));
}
