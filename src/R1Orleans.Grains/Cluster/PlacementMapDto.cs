using R1Orleans.Placement;

namespace R1Orleans.Grains.Cluster;

/// <summary>
/// A placement map on the wire (<see cref="PlacementMapData"/> with stable field ids), with the load balancer's replica
/// routing weights when it planned the map (aligned with <see cref="HolderMembers"/>; null: no planned weights).
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.PlacementMapDto")]
public sealed record PlacementMapDto(
    [property: Id(0)] long Version,
    [property: Id(1)] long Epoch,
    [property: Id(2)] string[] Silos,
    [property: Id(3)] string[] Nodes,
    [property: Id(4)] int[] MoeLayers,
    [property: Id(5)] int Experts,
    [property: Id(6)] int Groups,
    [property: Id(7)] int TopkGroup,
    [property: Id(8)] int[] HolderOffsets,
    [property: Id(9)] int[] HolderMembers,
    [property: Id(10)] double[]? Weights = null)
{
    public static PlacementMapDto From(PlacementMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        PlacementMapData d = map.ToData();
        return new(d.Version, d.Epoch, d.Silos, d.Nodes, d.MoeLayers, d.Experts, d.Groups, d.TopkGroup, d.HolderOffsets, d.HolderMembers);
    }

    public PlacementMap ToMap() => PlacementMap.FromData(new PlacementMapData(Version, Epoch, Silos, Nodes, MoeLayers, Experts, Groups, TopkGroup, HolderOffsets, HolderMembers));
}

/// <summary>
/// A silo as it joins the cluster: its address, its node, the hash of the model config it loaded, and where its
/// expert holder takes data-plane requests (its UCX worker address; empty when it serves through Orleans only).
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.ClusterMemberInfo")]
public sealed record ClusterMemberInfo(
    [property: Id(0)] string Silo,
    [property: Id(1)] string Node,
    [property: Id(2)] string ModelHash,
    [property: Id(3)] byte[] ExchangeAddress,
    [property: Id(4)] long Epoch = 0);

/// <summary>What the placement directory holds: the committed map, the pending one, the members and the model's hash.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.PlacementSnapshot")]
public sealed record PlacementSnapshot(
    [property: Id(0)] PlacementMapDto? Committed,
    [property: Id(1)] PlacementMapDto? Pending,
    [property: Id(2)] ClusterMemberInfo[] Members,
    [property: Id(3)] string? ModelHash,
    [property: Id(4)] int MembersNeeded);

/// <summary>The answer to a join: the snapshot, or why the silo was refused.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.JoinReply")]
public sealed record JoinReply(
    [property: Id(0)] bool Joined,
    [property: Id(1)] string? Refusal,
    [property: Id(2)] PlacementSnapshot Snapshot);
