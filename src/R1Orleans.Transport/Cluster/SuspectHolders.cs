using System.Diagnostics;
using R1Orleans.Placement;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// The holders a rank saw fail (unreachable, silent past the step deadline, fenced or erroring): its router leaves them
/// out wherever a replica remains until <see cref="SuspectFor"/> has passed, and its re-dispatch goes elsewhere. A
/// suspicion is only a routing preference: a false one costs a re-dispatch, never a different result. Thread-safe.
/// </summary>
public sealed class SuspectHolders
{
    private readonly Dictionary<SiloId, long> _since = [];
    private readonly Dictionary<SiloId, long> _first = [];
    private int _version;
    private long _suspicions;

    /// <summary>How long a holder stays suspect without failing again.</summary>
    public TimeSpan SuspectFor { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Changes whenever the set does (the router is rebuilt then).</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>True while any holder is (or was, until <see cref="Current"/> drops it) suspect.</summary>
    public bool Any
    {
        get
        {
            lock (_since)
            {
                return _since.Count > 0;
            }
        }
    }

    /// <summary>Suspicions raised since start (a metric).</summary>
    public long Suspicions => Interlocked.Read(ref _suspicions);

    public void Suspect(SiloId holder)
    {
        lock (_since)
        {
            long now = Stopwatch.GetTimestamp();
            if (!_since.TryGetValue(holder, out long since) || Stopwatch.GetElapsedTime(since, now) >= SuspectFor)
            {
                _first[holder] = now;
            }

            _since[holder] = now;
            Interlocked.Increment(ref _suspicions);
            Interlocked.Increment(ref _version);
        }
    }

    public bool IsSuspect(SiloId holder)
    {
        lock (_since)
        {
            return _since.TryGetValue(holder, out long since) && Stopwatch.GetElapsedTime(since) < SuspectFor;
        }
    }

    /// <summary>
    /// How long ago this rank first saw <paramref name="holder"/> fail, in its current spell of suspicion (null when it
    /// is not suspect): compared with when Orleans' membership declares the silo dead, the data path's head start.
    /// </summary>
    public TimeSpan? SuspectedFor(SiloId holder)
    {
        lock (_since)
        {
            return _since.TryGetValue(holder, out long since) && Stopwatch.GetElapsedTime(since) < SuspectFor && _first.TryGetValue(holder, out long first)
                ? Stopwatch.GetElapsedTime(first)
                : null;
        }
    }

    /// <summary>The suspects now (expired ones dropped).</summary>
    public IReadOnlyCollection<SiloId> Current()
    {
        lock (_since)
        {
            List<SiloId>? expired = null;
            foreach ((SiloId s, long since) in _since)
            {
                if (Stopwatch.GetElapsedTime(since) >= SuspectFor)
                {
                    (expired ??= []).Add(s);
                }
            }

            if (expired is not null)
            {
                expired.ForEach(s =>
                {
                    _since.Remove(s);
                    _first.Remove(s);
                });
                Interlocked.Increment(ref _version);
            }

            return [.. _since.Keys];
        }
    }
}
