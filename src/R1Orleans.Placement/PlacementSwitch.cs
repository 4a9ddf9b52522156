namespace R1Orleans.Placement;

/// <summary>
/// A rank's side of a placement switch: steps are planned against the current map; a newer map (higher epoch) is
/// proposed at any time and takes effect at the next step boundary (<see cref="BeginStep"/>), so a step never mixes
/// versions; steps in flight are counted per version so the coordinator knows when the old version has drained here
/// and the holders may retire it. Thread-safe (the control plane proposes while the engine loop steps).
/// </summary>
public sealed class PlacementSwitch
{
    private readonly Lock _gate = new();
    private readonly Dictionary<PlacementStamp, int> _inFlight = [];
    private PlacementMap _current;
    private PlacementMap? _pending;

    public PlacementSwitch(PlacementMap initial)
    {
        ArgumentNullException.ThrowIfNull(initial);
        _current = initial;
    }

    /// <summary>The map new steps are planned with (a pending proposal is not current until the next step begins).</summary>
    public PlacementMap Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>
    /// Proposes the next map; it becomes current at the next step boundary. A map whose epoch is not above the current
    /// one's (and a pending one's) is refused as stale; a newer proposal replaces a pending one.
    /// </summary>
    public void Propose(PlacementMap next)
    {
        ArgumentNullException.ThrowIfNull(next);
        lock (_gate)
        {
            long highest = Math.Max(_current.Epoch, _pending?.Epoch ?? long.MinValue);
            if (next.Epoch <= highest)
            {
                PlacementStamp[] known = _pending is null ? [_current.Stamp] : [_pending.Stamp, _current.Stamp];
                throw new PlacementFenceException(next.Stamp, known, FenceRefusal.Stale);
            }

            _pending = next;
        }
    }

    /// <summary>At a step boundary: switches to a pending map if any, counts the step in flight, returns the map to plan it with.</summary>
    public PlacementMap BeginStep()
    {
        lock (_gate)
        {
            if (_pending is not null)
            {
                _current = _pending;
                _pending = null;
            }

            _inFlight[_current.Stamp] = _inFlight.GetValueOrDefault(_current.Stamp) + 1;
            return _current;
        }
    }

    /// <summary>Ends a step begun with <paramref name="stamp"/> (completed, failed or abandoned alike).</summary>
    public void EndStep(PlacementStamp stamp)
    {
        lock (_gate)
        {
            int n = _inFlight.GetValueOrDefault(stamp);
            if (n <= 0)
            {
                throw new InvalidOperationException($"no step of placement {stamp} is in flight");
            }

            if (n == 1)
            {
                _inFlight.Remove(stamp);
            }
            else
            {
                _inFlight[stamp] = n - 1;
            }
        }
    }

    /// <summary>Steps in flight planned with <paramref name="stamp"/>.</summary>
    public int InFlight(PlacementStamp stamp)
    {
        lock (_gate)
        {
            return _inFlight.GetValueOrDefault(stamp);
        }
    }

    /// <summary>Whether this rank is done with <paramref name="stamp"/>: it is no longer current and none of its steps is in flight.</summary>
    public bool IsDrained(PlacementStamp stamp)
    {
        lock (_gate)
        {
            return _current.Stamp != stamp && _inFlight.GetValueOrDefault(stamp) == 0;
        }
    }
}
