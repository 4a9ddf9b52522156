using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using R1Orleans.Grains.Ranks;
using R1Orleans.Placement;
using ClusterMember = R1Orleans.Placement.ClusterMember;

namespace R1Orleans.Cluster.Ranks;

/// <summary>
/// What this gateway knows of the other ranks' load: each rank of the live placement reports its running and waiting
/// requests every <see cref="Interval"/>; requests sent to a rank since its last report are counted on top, so a burst
/// spreads before the next report. A rank that does not answer is left out until it does.
/// </summary>
public sealed class RankLoads(ClusterNode node, IGrainFactory grains, IClusterMembershipService membership) : BackgroundService
{
    private readonly ConcurrentDictionary<string, Entry> _loads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _lost = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);

    /// <summary>Polls in a row a rank may miss before its requests are resumed elsewhere.</summary>
    public const int MissedPollsLimit = 3;

    /// <summary>
    /// Cancelled when <paramref name="silo"/>'s rank is lost: Orleans' membership declared it dead, or it missed
    /// <see cref="MissedPollsLimit"/> load polls in a row. Requests streaming from it are then resumed elsewhere.
    /// </summary>
    public CancellationToken LostToken(SiloId silo) => _lost.GetOrAdd(silo.Value, _ => new CancellationTokenSource()).Token;

    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>The rank's last report plus the requests sent to it since, or null when it has not reported (or stopped answering).</summary>
    public RankCandidate? Candidate(SiloId silo)
    {
        if (!_loads.TryGetValue(silo.Value, out Entry? entry) || !entry.Load.Ready)
        {
            return null;
        }

        return new RankCandidate(silo.Value, entry.Load.Running, entry.Load.Waiting + Volatile.Read(ref entry.SentSince), entry.Load.MaxNumSeqs, false);
    }

    /// <summary>Counts <paramref name="count"/> requests sent to <paramref name="silo"/> until its next report.</summary>
    public void Sent(SiloId silo, int count)
    {
        if (_loads.TryGetValue(silo.Value, out Entry? entry))
        {
            Interlocked.Add(ref entry.SentSince, count);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (node.View.Current is not { } map)
            {
                continue;
            }

            // The placement's ranks, and any rank requests still stream from (one that left the placement, draining or
            // dead, is polled until it is found lost or its streams end).
            var polled = new HashSet<string>(StringComparer.Ordinal);
            foreach (ClusterMember member in map.Members)
            {
                if (member.Silo != node.Self.Silo)
                {
                    polled.Add(member.Silo.Value);
                }
            }

            polled.UnionWith(_lost.Keys.Where(k => k != node.Self.Silo.Value));
            var polls = polled.Select(silo => PollAsync(silo, stoppingToken)).ToList();

            foreach (string gone in _loads.Keys.Where(k => map.IndexOf(new SiloId(k)) < 0))
            {
                _loads.TryRemove(gone, out _);
            }

            ClusterMembershipSnapshot alive = membership.CurrentSnapshot;
            foreach (string silo in _lost.Keys)
            {
                if (alive.GetSiloStatus(SiloAddress.FromParsableString(silo)) == SiloStatus.Dead)
                {
                    MarkLost(silo);
                }
            }

            await Task.WhenAll(polls).ConfigureAwait(false);
        }
    }

    private async Task PollAsync(string silo, CancellationToken stoppingToken)
    {
        try
        {
            RankLoad load = await grains.GetGrain<IRankGrain>(silo).Load().WaitAsync(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
            _loads[silo] = new Entry(load);
            _failures[silo] = 0;
        }
        catch (Exception) when (!stoppingToken.IsCancellationRequested)
        {
            // Unreachable, dead, or failing to activate its rank: left out until it answers again; lost after a few.
            _loads.TryRemove(silo, out _);
            if (_failures.AddOrUpdate(silo, 1, (_, n) => n + 1) >= MissedPollsLimit)
            {
                MarkLost(silo);
            }
        }
    }

    private void MarkLost(string silo)
    {
        if (_lost.TryRemove(silo, out CancellationTokenSource? cts))
        {
            cts.Cancel();
            cts.Dispose();
        }
    }

    private sealed class Entry(RankLoad load)
    {
        public RankLoad Load { get; } = load;

        public int SentSince;
    }
}
