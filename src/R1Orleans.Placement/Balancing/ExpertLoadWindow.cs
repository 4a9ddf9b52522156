namespace R1Orleans.Placement.Balancing;

/// <summary>Tokens routed to one replica of one expert of one MoE layer within one window.</summary>
/// <param name="Replica">The replica index as the router chose it (its position in the placement's holder list).</param>
public readonly record struct ExpertReplicaLoad(int Layer, int Expert, int Replica, long Tokens);

/// <summary>
/// One silo's closed window of load statistics: what its rank routed per (layer, expert, replica) since the previous
/// window, the message a silo publishes to the load balancer (the grains project wraps it in a [GenerateSerializer]
/// record). <see cref="Window"/> numbers a silo's windows 1, 2, 3… so a receiver sees a lost one as a gap. Replica
/// indexes refer to the placement of <see cref="PlacementVersion"/>; they are comparable across the window only when
/// <see cref="FirstPlacementVersion"/> equals it (the per-expert totals always are). Versions are 0 when unknown.
/// </summary>
/// <param name="Silo">The silo whose rank counted the tokens.</param>
/// <param name="Window">The window's number on that silo, from 1.</param>
/// <param name="FirstPlacementVersion">The placement version of the first count in the window.</param>
/// <param name="PlacementVersion">The placement version of the last count in the window.</param>
/// <param name="Duration">How long the window was open (the estimate divides counts by it to get rates).</param>
/// <param name="Counts">The non-zero counts, ordered by layer, expert, replica.</param>
public sealed record ExpertLoadWindow(
    SiloId Silo,
    long Window,
    long FirstPlacementVersion,
    long PlacementVersion,
    TimeSpan Duration,
    ExpertReplicaLoad[] Counts)
{
    /// <summary>Whether every count of the window was made under one placement version.</summary>
    public bool SinglePlacement => FirstPlacementVersion == PlacementVersion;

    /// <summary>Tokens over every count.</summary>
    public long TotalTokens => Counts.Sum(c => c.Tokens);
}
