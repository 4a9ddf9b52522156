using R1Orleans.Placement;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// A rank's view of the cluster's placement: the control plane publishes each new map here, and the rank's exchange
/// takes it up at its next step boundary (<see cref="R1Orleans.Model.IExpertExchange.BeginStep"/>), so every layer of a
/// step is dispatched with one version. Thread-safe.
/// </summary>
public sealed class PlacementView
{
    private PlacementMap? _current;

    public PlacementView()
    {
    }

    public PlacementView(PlacementMap initial) => _current = initial ?? throw new ArgumentNullException(nameof(initial));

    /// <summary>The newest map published, or null before the first.</summary>
    public PlacementMap? Current => Volatile.Read(ref _current);

    /// <summary>Publishes <paramref name="map"/> unless a newer one (higher epoch) is already here; true when it was taken.</summary>
    public bool Publish(PlacementMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        while (true)
        {
            PlacementMap? seen = Volatile.Read(ref _current);
            if (seen is not null && seen.Stamp.Epoch >= map.Stamp.Epoch)
            {
                return seen.Stamp == map.Stamp;
            }

            if (Interlocked.CompareExchange(ref _current, map, seen) == seen)
            {
                return true;
            }
        }
    }
}
