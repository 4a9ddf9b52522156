namespace R1Orleans.Placement.Communicators;

/// <summary>
/// Which NCCL communicator a step uses: one per placement map, named by the map's stamp, over the map's members in map
/// order (member i is NCCL rank i; rank 0 makes the unique id). Every placement change (a join, a leave, a death, a
/// rebalance) is a new map with a greater epoch, so it is a new generation and a new communicator: a communicator never
/// outlives the membership it was built over. Generations are ordered by (epoch, version).
/// </summary>
public sealed class CommunicatorGeneration : IEquatable<CommunicatorGeneration>
{
    private readonly SiloId[] _ranks;

    public CommunicatorGeneration(PlacementStamp stamp, IEnumerable<SiloId> ranks)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        _ranks = [.. ranks];
        if (_ranks.Length == 0)
        {
            throw new ArgumentException("a communicator has at least one rank", nameof(ranks));
        }

        if (_ranks.Distinct().Count() != _ranks.Length)
        {
            throw new ArgumentException($"a silo is listed twice among the ranks of {stamp}", nameof(ranks));
        }

        Stamp = stamp;
    }

    /// <summary>The generation of <paramref name="map"/>: its stamp, its members in map order.</summary>
    public static CommunicatorGeneration Of(PlacementMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        return new CommunicatorGeneration(map.Stamp, map.Members.Select(m => m.Silo));
    }

    public PlacementStamp Stamp { get; }

    /// <summary>The silos in rank order.</summary>
    public IReadOnlyList<SiloId> Ranks => _ranks;

    /// <summary>The silo that makes the unique id (rank 0).</summary>
    public SiloId RankZero => _ranks[0];

    /// <summary>A silo's rank, or -1 when it is not a member.</summary>
    public int RankOf(SiloId silo) => Array.IndexOf(_ranks, silo);

    /// <summary>The communicator's name in logs and errors, e.g. "v7e13x3".</summary>
    public string Name => $"v{Stamp.Version}e{Stamp.Epoch}x{_ranks.Length}";

    /// <summary>Whether this generation comes after <paramref name="other"/> (greater epoch, then greater version).</summary>
    public bool IsNewerThan(CommunicatorGeneration other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Stamp.Epoch != other.Stamp.Epoch ? Stamp.Epoch > other.Stamp.Epoch : Stamp.Version > other.Stamp.Version;
    }

    public bool Equals(CommunicatorGeneration? other) =>
        other is not null && Stamp == other.Stamp && _ranks.AsSpan().SequenceEqual(other._ranks);

    public override bool Equals(object? obj) => Equals(obj as CommunicatorGeneration);

    public override int GetHashCode() => HashCode.Combine(Stamp, _ranks.Length, _ranks[0]);

    public override string ToString() => $"{Name} [{string.Join(", ", _ranks)}]";
}
