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
}
