namespace R1Orleans.Placement;

/// <summary>
/// The router's hook for choosing among an expert's replicas once the node limit is met: a lower cost is preferred.
/// Any choice gives the same outputs (an expert's row depends only on that row and the weights), so a preference
/// only moves load. The load balancer's replica weights plug in here.
/// </summary>
public interface IReplicaPreference
{
    /// <summary>The cost of sending <paramref name="token"/>'s row for <paramref name="expert"/> to replica <paramref name="replica"/>.</summary>
    int Cost(int layer, int token, int expert, int replica);

    /// <summary>
    /// Whether a replica on the rank's own silo (or node) is taken before the cheapest one. True by default (no copy,
    /// no hop); a preference that must be honoured to balance load (planned replica weights) says false, and then
    /// only the node limit comes before its cost.
    /// </summary>
    bool PreferLocalReplicas => true;
}

/// <summary>The default: the first replica (replica 0) unless another saves a node or is local.</summary>
public sealed class FirstReplicaPreference : IReplicaPreference
{
    public static FirstReplicaPreference Instance { get; } = new();

    public int Cost(int layer, int token, int expert, int replica) => replica;
}

/// <summary>Spreads tokens over replicas round-robin by token index (replica (token + expert) mod R is cheapest).</summary>
public sealed class TokenSpreadPreference(int replicas) : IReplicaPreference
{
    private readonly int _replicas = replicas >= 1 ? replicas : throw new ArgumentOutOfRangeException(nameof(replicas));

    public int Cost(int layer, int token, int expert, int replica) =>
        (replica - ((token + expert) % _replicas) + _replicas) % _replicas;
}
