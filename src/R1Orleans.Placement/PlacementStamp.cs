namespace R1Orleans.Placement;

/// <summary>
/// What a step carries to name the placement it was planned with: the map's <see cref="Version"/> (its sequence number,
/// +1 per map the planner makes) and its <see cref="Epoch"/> (the fencing token: strictly greater for every new map and
/// never lower than the cluster generation that planned it). A holder serves a step only if it serves this exact stamp.
/// </summary>
public readonly record struct PlacementStamp(long Version, long Epoch)
{
    public override string ToString() => $"v{Version} (epoch {Epoch})";
}
