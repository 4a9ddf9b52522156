using System.Runtime.CompilerServices;
using R1Orleans.Engine.Api;

namespace R1Orleans.Gateway.Ranks;

/// <summary>
/// What a draining rank does with a request it is running (issue 17: "hands its running requests to other ranks, or
/// finishes them when that is quicker"). When <c>handOff</c> fires, a request with more than
/// <see cref="FinishAtMostRemaining"/> tokens left to make is stopped here and ends with a
/// <see cref="RankUnavailableException"/>: the gateway resumes it on another rank, which recomputes its tokens so far in
/// one prefill (a few steps) — cheaper than decoding many more tokens here. One that is nearly done finishes here.
/// Tokens made here but not yet received are simply made again there (same seed, same RNG position, same bits).
/// </summary>
public static class RankHandOff
{
    /// <summary>A request with at most this many tokens left finishes on the draining rank.</summary>
    public const int FinishAtMostRemaining = 16;

    /// <summary>True when a request that may make <paramref name="remaining"/> more tokens should move.</summary>
    public static bool ShouldMove(int remaining) => remaining > FinishAtMostRemaining;

    /// <summary>
    /// Runs <paramref name="start"/> (the engine's stream for one request, started with the token it is given) and hands the
    /// request off when <paramref name="handOff"/> fires (see the class). <paramref name="made"/> is how many tokens it had
    /// before this stream (a resumed request's), <paramref name="maxTokens"/> its limit.
    /// </summary>
    public static async IAsyncEnumerable<TextEvent> Run(
        string rank, Func<CancellationToken, IAsyncEnumerable<TextEvent>> start, int made, int maxTokens,
        CancellationToken handOff, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        using var request = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        IAsyncEnumerator<TextEvent> events = start(request.Token).GetAsyncEnumerator(request.Token);
        bool finishing = !handOff.CanBeCanceled;
        Task<bool>? next = null;
        try
        {
            while (true)
            {
                next = events.MoveNextAsync().AsTask();
                if (!finishing)
                {
                    try
                    {
                        await next.WaitAsync(handOff).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (handOff.IsCancellationRequested && !cancellation.IsCancellationRequested)
                    {
                        if (ShouldMove(maxTokens - made))
                        {
                            await StopAsync(request, next).ConfigureAwait(false);
                            throw new RankUnavailableException(rank, $"it is draining; the request ({made} tokens made, up to {maxTokens - made} more) moves to another rank");
                        }

                        finishing = true;
                    }
                }

                if (!await next.ConfigureAwait(false))
                {
                    yield break;
                }

                TextEvent e = events.Current;
                if (e.Token >= 0)
                {
                    made++;
                }

                yield return e;
            }
        }
        finally
        {
            // An iterator cannot be disposed while a MoveNextAsync is in flight (the caller gave up, or both tokens
            // fired at once): stop the request and let that call end first.
            if (next is { IsCompleted: false })
            {
                await StopAsync(request, next).ConfigureAwait(false);
            }

            await events.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Cancels the request on the engine and waits for its pending call to end (whatever it ends with).</summary>
    private static async Task StopAsync(CancellationTokenSource request, Task<bool> pending)
    {
        await request.CancelAsync().ConfigureAwait(false);
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The engine stopped it, as asked (or it had failed anyway): its result is not wanted.
        }
    }
}
