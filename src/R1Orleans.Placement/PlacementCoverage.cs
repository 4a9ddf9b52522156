namespace R1Orleans.Placement;

/// <summary>
/// Whether a placement can serve the whole model with the silos alive now: every routed expert of every MoE layer has
/// at least one live holder (a gateway's /health is ready only then).
/// </summary>
public static class PlacementCoverage
{
    /// <summary>The first (layer, expert) with no live holder, or null when every one has one.</summary>
    public static (int Layer, int Expert)? FirstUncovered(PlacementMap map, Func<SiloId, bool> isLive)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(isLive);
        var live = new bool[map.MemberCount];
        for (int m = 0; m < live.Length; m++)
        {
            live[m] = isLive(map.Member(m).Silo);
        }

        foreach (int layer in map.Layout.MoeLayers)
        {
            for (int e = 0; e < map.Layout.Experts; e++)
            {
                bool held = false;
                foreach (int m in map.HolderIndexes(layer, e))
                {
                    held |= live[m];
                }

                if (!held)
                {
                    return (layer, e);
                }
            }
        }

        return null;
    }

    /// <summary>"layer 3 expert 17 has no live holder (held by A, B)", or null when covered.</summary>
    public static string? Describe(PlacementMap map, Func<SiloId, bool> isLive)
    {
        if (FirstUncovered(map, isLive) is not (int layer, int expert))
        {
            return null;
        }

        return $"layer {layer} expert {expert} has no live holder (held by {string.Join(", ", map.Holders(layer, expert))})";
    }
}
