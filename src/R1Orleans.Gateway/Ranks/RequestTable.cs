using System.Collections.Concurrent;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Gateway.Ranks;

/// <summary>
/// The gateway's record of every request it is running, wherever it runs: the prompt, the sampling with its seed, the
/// rank, and every token received so far. It is what a request resumes from when its rank is lost
/// (<see cref="TrackedRequest.Snapshot"/> is the engine's <see cref="RequestState"/>: the RNG position is the number of
/// tokens). Thread-safe.
/// </summary>
public sealed class RequestTable
{
    private readonly ConcurrentDictionary<string, TrackedRequest> _running = new(StringComparer.Ordinal);
    private long _ids;

    /// <summary>Starts tracking a request about to run on <paramref name="rank"/>.</summary>
    public TrackedRequest Start(string rank, int[] promptTokens, SamplingParams sampling)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        ArgumentNullException.ThrowIfNull(sampling);
        ulong seed = sampling.Seed ?? throw new ArgumentException("the gateway gives every request a seed before it runs", nameof(sampling));
        var request = new TrackedRequest($"gw-{Interlocked.Increment(ref _ids)}", rank, promptTokens, sampling, seed, this);
        _running[request.Id] = request;
        return request;
    }

    /// <summary>The requests running now.</summary>
    public IReadOnlyCollection<TrackedRequest> Running => [.. _running.Values];

    /// <summary>Running requests per rank.</summary>
    public IReadOnlyDictionary<string, int> CountByRank() =>
        _running.Values.GroupBy(r => r.Rank, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    internal void End(TrackedRequest request) => _running.TryRemove(request.Id, out _);
}
