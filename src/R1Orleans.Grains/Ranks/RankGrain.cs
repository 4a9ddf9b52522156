using Orleans.Concurrency;
using R1Orleans.Grains.Placement;

namespace R1Orleans.Grains.Ranks;

/// <summary>Thin over the silo's own rank (<see cref="ILocalRank"/>). Reentrant: a rank runs many requests at once.</summary>
[SiloBound, Reentrant]
public sealed class RankGrain(ILocalRank local) : Grain, IRankGrain
{
    public IAsyncEnumerable<RankEvent> Generate(RankRequest request, CancellationToken cancellation = default) => local.Generate(request, cancellation);

    public IAsyncEnumerable<RankEvent> Resume(RankRequest request, int[] generated, ulong seed, CancellationToken cancellation = default) =>
        local.Resume(request, generated, seed, cancellation);

    public Task<RankLoad> Load() => Task.FromResult(local.Load);

    public Task<string> ModelHash() => Task.FromResult(local.ModelHash);

    public Task<RankReport> Report() => Task.FromResult(local.Report);

    public Task<string> Drain() => Task.FromResult(local.Drain());

    public Task InjectReplyDelay(int delayMs, int durationMs)
    {
        local.InjectReplyDelay(TimeSpan.FromMilliseconds(delayMs), TimeSpan.FromMilliseconds(durationMs));
        return Task.CompletedTask;
    }
}

/// <summary>The silo's own rank, as the rank grain serves it to other silos.</summary>
public interface ILocalRank
{
    RankLoad Load { get; }

    RankReport Report { get; }

    string ModelHash { get; }

    IAsyncEnumerable<RankEvent> Generate(RankRequest request, CancellationToken cancellation);

    IAsyncEnumerable<RankEvent> Resume(RankRequest request, int[] generated, ulong seed, CancellationToken cancellation);

    /// <summary>Begins draining the silo (as SIGTERM); says what it began.</summary>
    string Drain();

    /// <summary>Delays the holder's replies; throws <see cref="InvalidOperationException"/> unless fault injection is on.</summary>
    void InjectReplyDelay(TimeSpan delay, TimeSpan duration);
}
