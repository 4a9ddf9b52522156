using System.Diagnostics;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

public class LoadSchedulerTests
{
    [Theory]
    [InlineData(25.0, 1)]
    [InlineData(0.5, 2)]
    [InlineData(400.0, 3)]
    public void PoissonArrivalsHaveTheRequestedMeanRate(double rate, int seed)
    {
        const int N = 20_000;
        double[] t = ArrivalSchedule.Poisson(N, rate, seed);
        Assert.Equal(0, t[0]);
        double[] gaps = t.Zip(t.Skip(1), (a, b) => b - a).ToArray();
        Assert.All(gaps, g => Assert.True(g >= 0));
        double mean = gaps.Average();
        double std = Math.Sqrt(gaps.Sum(g => (g - mean) * (g - mean)) / (gaps.Length - 1));

        // Exponential gaps: mean 1/rate (standard error 1/(rate·√N), 0.7 %) and coefficient of variation 1.
        Assert.InRange(mean * rate, 0.97, 1.03);
        Assert.InRange(std / mean, 0.95, 1.05);
        Assert.InRange((N - 1) / t[^1], rate * 0.97, rate * 1.03);

        // Counts per window of mean 10 arrivals are Poisson: variance equals mean.
        double window = 10 / rate;
        int[] counts = t.GroupBy(x => (int)(x / window)).Select(g => g.Count()).SkipLast(1).ToArray();
        double cm = counts.Average();
        double cv = counts.Sum(c => (c - cm) * (c - cm)) / (counts.Length - 1);
        Assert.InRange(cm, 9.5, 10.5);
        Assert.InRange(cv / cm, 0.85, 1.15);
    }

    [Fact]
    public void ScheduleIsReproducible()
    {
        Assert.Equal(ArrivalSchedule.Poisson(100, 5, 42), ArrivalSchedule.Poisson(100, 5, 42));
        Assert.NotEqual(ArrivalSchedule.Poisson(100, 5, 42), ArrivalSchedule.Poisson(100, 5, 43));
        Assert.Throws<ArgumentOutOfRangeException>(() => ArrivalSchedule.Poisson(10, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ArrivalSchedule.Poisson(10, double.PositiveInfinity, 1));
    }

    [Theory]
    [InlineData(3, null)]
    [InlineData(2, 500.0)]
    public async Task ConcurrencyCapIsReachedAndNeverExceeded(int concurrency, double? rate)
    {
        // Each request holds its slot until the cap has been reached once, then 15 ms more: no slot is freed before the cap
        // is reached however late a busy machine runs the requests, and a scheduler that overshoots it is seen doing so.
        // The wait ends at one deadline 30 s out, after which a scheduler that never reached the cap fails the peak check.
        int inFlight = 0, peak = 0;
        var seen = new bool[24];
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        var scheduler = new LoadScheduler(concurrency, rate, seed: 7);
        await scheduler.RunAsync(seen.Length, async (i, ct) =>
        {
            int now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peak, now);
            if (now == concurrency)
            {
                full.TrySetResult();
            }

            seen[i] = true;
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left > TimeSpan.Zero)
            {
                await Task.WhenAny(full.Task, Task.Delay(left, ct));
            }

            await Task.Delay(15, ct);
            Interlocked.Decrement(ref inFlight);
        });
        Assert.Equal(concurrency, peak);
        Assert.All(seen, Assert.True);
    }

    [Fact]
    public async Task OpenLoopArrivalsFollowTheRate()
    {
        // 40 arrivals at 200/s: the last is due at the 39th arrival time of the same seeded schedule.
        double[] due = ArrivalSchedule.Poisson(40, 200, 3);
        var started = new double[40];
        var sw = Stopwatch.StartNew();
        await new LoadScheduler(null, 200, 3).RunAsync(40, (i, ct) =>
        {
            started[i] = sw.Elapsed.TotalSeconds;
            return Task.CompletedTask;
        });
        for (int i = 0; i < 40; i++)
        {
            Assert.True(started[i] >= due[i] - 1e-4, $"request {i} started at {started[i]:0.000} s, due {due[i]:0.000} s");
        }

        Assert.InRange(started[^1], due[^1] - 1e-4, due[^1] + 1.0);
    }

    [Fact]
    public void ClosedLoopIsTheDefault()
    {
        Assert.Equal(1, new LoadScheduler(null, null).Concurrency);
        Assert.Null(new LoadScheduler(null, 3).Concurrency);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoadScheduler(0, null));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
