namespace R1Orleans.Placement;

/// <summary>
/// A <see cref="PlacementMap"/> as plain arrays, the shape to serialize (the grains project may wrap it in a
/// [GenerateSerializer] record). Holders of (layer index li, expert e) are HolderMembers[HolderOffsets[i]..HolderOffsets[i + 1]]
/// with i = li * Experts + e, each an index into Silos / Nodes, replica 0 first.
/// </summary>
public sealed record PlacementMapData(
    long Version,
    long Epoch,
    string[] Silos,
    string[] Nodes,
    int[] MoeLayers,
    int Experts,
    int Groups,
    int TopkGroup,
    int[] HolderOffsets,
    int[] HolderMembers);
