using Orleans.Concurrency;
using R1Orleans.Grains.Balancing;
using R1Orleans.Grains.Placement;
using R1Orleans.Model;

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

    public Task<GateBiasDto?> CurrentGateBias() => Task.FromResult(local.CurrentGateBias is { } bias ? GateBiasDto.From(bias) : null);

    public Task<long> ApplyGateBias(GateBiasDto bias)
    {
        ArgumentNullException.ThrowIfNull(bias);
        return Task.FromResult(local.ApplyGateBias(bias.ToGateBias()));
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

    /// <summary>The gate bias the engine's next step routes with; null while the model loads.</summary>
    GateBias? CurrentGateBias { get; }

    /// <summary>Applies a newer gate bias to the engine; the version it routes with after, or -1 while the model loads.</summary>
    long ApplyGateBias(GateBias bias);
}
