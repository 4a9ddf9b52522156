namespace R1Orleans.Grains.Cluster;

/// <summary>
/// The cluster's placement directory (one activation, key <see cref="DefaultKey"/>), thin over
/// <see cref="R1Orleans.Placement.PlacementDirectory"/>: silos join with their model's hash, load what the pending map
/// gives them, acknowledge it, and take up the committed map.
/// </summary>
[Alias("R1Orleans.IPlacementDirectoryGrain")]
public interface IPlacementDirectoryGrain : IGrainWithStringKey
{
    public const string DefaultKey = "default";

    [Alias("Join")]
    Task<JoinReply> Join(ClusterMemberInfo member);

    [Alias("Leave")]
    Task Leave(string silo);

    [Alias("Acknowledge")]
    Task<PlacementSnapshot> Acknowledge(string silo, long version, long epoch);

    [Alias("Snapshot")]
    Task<PlacementSnapshot> Snapshot();

    /// <summary>
    /// A rebalanced map (the load balancer's plan over the same members) as the next pending placement: loaded in the
    /// background, switched to at a step boundary once every member acknowledged it (the hot swap).
    /// </summary>
    [Alias("Propose")]
    Task<ProposeReply> Propose(PlacementMapDto plan);
}

/// <summary>What became of a proposed map: pending under <see cref="Version"/>, or refused with <see cref="Reason"/>.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.ProposeReply")]
public sealed record ProposeReply([property: Id(0)] bool Accepted, [property: Id(1)] string? Reason, [property: Id(2)] long? Version, [property: Id(3)] long? Epoch);
