namespace R1Orleans.Placement;

/// <summary>
/// What a switch from one map to the next asks of each silo: the (layer, expert) pairs it must load before the new
/// version can begin (held in the next map, not in the previous), and those it may drop once the previous version has
/// drained (held in the previous map only).
/// </summary>
public sealed class PlacementDiff
{
    private readonly Dictionary<SiloId, List<(int Layer, int Expert)>> _loads = [];
    private readonly Dictionary<SiloId, List<(int Layer, int Expert)>> _drops = [];

    private PlacementDiff()
    {
    }

    /// <summary>(layer, expert) copies to load, summed over silos: the movement a switch costs.</summary>
    public int TotalLoads { get; private set; }

    public int TotalDrops { get; private set; }

    /// <summary>The difference between two maps of the same layout; a null previous means every holder loads.</summary>
    public static PlacementDiff Between(PlacementMap? previous, PlacementMap next)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (previous is not null && !previous.Layout.Equals(next.Layout))
        {
            throw new ArgumentException($"maps of different layouts ({previous.Layout} vs {next.Layout}) cannot be compared", nameof(previous));
        }

        var diff = new PlacementDiff();
        foreach (int layer in next.Layout.MoeLayers)
        {
            for (int e = 0; e < next.Layout.Experts; e++)
            {
                IReadOnlyList<SiloId> after = next.Holders(layer, e);
                IReadOnlyList<SiloId> before = previous is null ? [] : previous.Holders(layer, e);
                foreach (SiloId s in after.Except(before))
                {
                    Add(diff._loads, s, layer, e);
                    diff.TotalLoads++;
                }

                foreach (SiloId s in before.Except(after))
                {
                    Add(diff._drops, s, layer, e);
                    diff.TotalDrops++;
                }
            }
        }

        return diff;
    }

    public IReadOnlyList<(int Layer, int Expert)> Loads(SiloId silo) => _loads.TryGetValue(silo, out var l) ? l : [];

    public IReadOnlyList<(int Layer, int Expert)> Drops(SiloId silo) => _drops.TryGetValue(silo, out var l) ? l : [];

    private static void Add(Dictionary<SiloId, List<(int Layer, int Expert)>> into, SiloId silo, int layer, int expert)
    {
        if (!into.TryGetValue(silo, out var list))
        {
            into[silo] = list = [];
        }

        list.Add((layer, expert));
    }
}
