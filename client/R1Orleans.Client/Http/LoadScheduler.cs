namespace R1Orleans.Client.Http;

/// <summary>Arrival times of a load test.</summary>
public static class ArrivalSchedule
{
    /// <summary>
    /// Arrival offsets in seconds of a Poisson process with <paramref name="ratePerSecond"/> arrivals per second: the first at 0,
    /// then exponential gaps of mean 1/rate, seeded and so reproducible.
    /// </summary>
    public static double[] Poisson(int count, double ratePerSecond, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (!(ratePerSecond > 0) || double.IsInfinity(ratePerSecond))
        {
            throw new ArgumentOutOfRangeException(nameof(ratePerSecond), ratePerSecond, "the request rate must be a positive finite number");
        }

        var random = new Random(seed);
        double[] offsets = new double[count];
        double t = 0;
        for (int i = 0; i < count; i++)
        {
            offsets[i] = t;
            t += -Math.Log(1 - random.NextDouble()) / ratePerSecond;
        }

        return offsets;
    }
}

/// <summary>
/// Runs N requests either closed-loop (at most <c>concurrency</c> in flight, the next starting as one ends) or open-loop
/// (Poisson arrivals at <c>requestRate</c> per second, optionally also capped at <c>concurrency</c> in flight: an arrival
/// that finds the cap reached waits for a slot, as vLLM's benchmark does with --max-concurrency).
/// </summary>
public sealed class LoadScheduler
{
    private readonly int? _concurrency;
    private readonly double? _requestRate;
    private readonly int _seed;
    private readonly TimeProvider _time;

    public LoadScheduler(int? concurrency, double? requestRate, int seed = 0, TimeProvider? time = null)
    {
        if (concurrency is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(concurrency), concurrency, "concurrency must be at least 1");
        }

        if (requestRate is double r && (!(r > 0) || double.IsInfinity(r)))
        {
            throw new ArgumentOutOfRangeException(nameof(requestRate), requestRate, "the request rate must be a positive finite number");
        }

        _concurrency = concurrency ?? (requestRate is null ? 1 : null);
        _requestRate = requestRate;
        _seed = seed;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The in-flight cap (null: unbounded, arrivals only).</summary>
    public int? Concurrency => _concurrency;

    public double? RequestRate => _requestRate;

    /// <summary>Starts <paramref name="count"/> requests (index 0..count−1) on schedule and waits for all of them.</summary>
    public async Task RunAsync(int count, Func<int, CancellationToken, Task> request, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        double[]? offsets = _requestRate is double rate ? ArrivalSchedule.Poisson(count, rate, _seed) : null;
        using var slots = new SemaphoreSlim(_concurrency ?? int.MaxValue);
        var running = new List<Task>(count);
        long start = _time.GetTimestamp();
        try
        {
            for (int i = 0; i < count; i++)
            {
                if (offsets is not null)
                {
                    await WaitUntilAsync(start, TimeSpan.FromSeconds(offsets[i]), cancellationToken).ConfigureAwait(false);
                }

                await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                int index = i;
                running.Add(Task.Run(
                    async () =>
                    {
                        try
                        {
                            await request(index, cancellationToken).ConfigureAwait(false);
                        }
                        finally
                        {
                            slots.Release();
                        }
                    },
                    CancellationToken.None));
            }
        }
        finally
        {
            // Never leave requests running past this call (the semaphore is disposed here).
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until <paramref name="due"/> after <paramref name="start"/>, never returning early (timers may fire a millisecond or more early).</summary>
    private async Task WaitUntilAsync(long start, TimeSpan due, CancellationToken cancellationToken)
    {
        TimeSpan wait;
        while ((wait = due - _time.GetElapsedTime(start)) > TimeSpan.Zero)
        {
            if (wait > TimeSpan.FromMilliseconds(2))
            {
                await Task.Delay(wait - TimeSpan.FromMilliseconds(1), _time, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                cancellationToken.ThrowIfCancellationRequested();
                await Task.Yield();
            }
        }
    }
}
