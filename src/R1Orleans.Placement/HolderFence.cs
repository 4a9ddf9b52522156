namespace R1Orleans.Placement;

/// <summary>
/// Decides whether an expert holder serves a step: it serves the current placement version and, during a switch, the
/// previous one until its steps have drained; any other stamp is refused with a <see cref="PlacementFenceException"/>.
/// The switch protocol at a step boundary: the holder loads what the new map adds, then <see cref="Begin"/> (both
/// versions served), ranks move to the new version at their next step, and once the old version's steps drained the
/// coordinator calls <see cref="Retire"/> (then the experts only the old map needed may be dropped). Epochs only grow:
/// a stamp whose epoch is not above every epoch begun so far is refused, whatever its version number, which fences off
/// a duplicate or stale directory and a paused silo that wakes up with an old map. Thread-safe.
/// </summary>
public sealed class HolderFence
{
    private readonly Lock _gate = new();
    private PlacementStamp? _current;
    private PlacementStamp? _previous;
    private long _highestEpoch = long.MinValue;

    public HolderFence()
    {
    }

    public HolderFence(PlacementStamp initial) => Begin(initial);

    public PlacementStamp? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>The stamps served now: the current one first, then the previous one while it drains.</summary>
    public IReadOnlyList<PlacementStamp> Served
    {
        get
        {
            lock (_gate)
            {
                return ServedLocked();
            }
        }
    }

    /// <summary>
    /// Starts serving <paramref name="next"/> beside the current version (which becomes the previous one). Idempotent
    /// for the current stamp. Refused (<see cref="FenceRefusal.Stale"/>) when next's epoch is not above every epoch begun
    /// so far; an <see cref="InvalidOperationException"/> while a previous version is still being served (retire it first).
    /// </summary>
    public void Begin(PlacementStamp next)
    {
        lock (_gate)
        {
            if (_current == next)
            {
                return;
            }

            if (next.Epoch <= _highestEpoch)
            {
                throw new PlacementFenceException(next, ServedLocked(), FenceRefusal.Stale);
            }

            if (_previous is { } draining)
            {
                throw new InvalidOperationException($"cannot begin placement {next}: {draining} is still draining here; retire it first");
            }

            _previous = _current;
            _current = next;
            _highestEpoch = next.Epoch;
        }
    }

    /// <summary>Stops serving <paramref name="old"/> after its steps drained; false if it was not served. The current version cannot be retired.</summary>
    /// <summary>
    /// Begins <paramref name="next"/> while keeping <paramref name="keep"/> (the committed version this silo's ranks
    /// still step with) served: whatever else was served (a pending version superseded before it was committed, an
    /// older one still draining) is dropped for it. Without a version to keep, as <see cref="Begin"/> with the current
    /// version left draining.
    /// </summary>
    public void BeginKeeping(PlacementStamp next, PlacementStamp? keep)
    {
        lock (_gate)
        {
            if (_current == next)
            {
                return;
            }

            if (next.Epoch <= _highestEpoch)
            {
                throw new PlacementFenceException(next, ServedLocked(), FenceRefusal.Stale);
            }

            _previous = keep is { } k && (_current == k || _previous == k) ? k : _current;
            _current = next;
            _highestEpoch = next.Epoch;
        }
    }

    public bool Retire(PlacementStamp old)
    {
        lock (_gate)
        {
            if (_current == old)
            {
                throw new InvalidOperationException($"cannot retire placement {old}: it is the current version here");
            }

            if (_previous != old)
            {
                return false;
            }

            _previous = null;
            return true;
        }
    }

    /// <summary>Whether a step planned with <paramref name="stamp"/> is served here.</summary>
    public bool Serves(PlacementStamp stamp)
    {
        lock (_gate)
        {
            return _current == stamp || _previous == stamp;
        }
    }

    /// <summary>Admits a step planned with <paramref name="stamp"/>, or throws a <see cref="PlacementFenceException"/> naming the versions served.</summary>
    public void Admit(PlacementStamp stamp)
    {
        lock (_gate)
        {
            if (_current == stamp || _previous == stamp)
            {
                return;
            }

            FenceRefusal reason = stamp.Epoch > _highestEpoch ? FenceRefusal.Ahead : FenceRefusal.Stale;
            throw new PlacementFenceException(stamp, ServedLocked(), reason);
        }
    }

    private PlacementStamp[] ServedLocked() =>
        (_current, _previous) switch
        {
            ({ } c, { } p) => [c, p],
            ({ } c, null) => [c],
            _ => [],
        };
}
