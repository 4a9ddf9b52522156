using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;

namespace R1Orleans.Grains.Balancing;

/// <summary>
/// One silo's closed window of expert load (<see cref="ExpertLoadWindow"/>) on the wire: what a silo publishes to the
/// load balancer's stream. Counts are parallel arrays (layer, expert, replica, tokens), ordered as the window orders them.
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.ExpertLoadWindowDto")]
public sealed record ExpertLoadWindowDto(
    [property: Id(0)] string Silo,
    [property: Id(1)] long Window,
    [property: Id(2)] long FirstPlacementVersion,
    [property: Id(3)] long PlacementVersion,
    [property: Id(4)] long DurationTicks,
    [property: Id(5)] int[] Layers,
    [property: Id(6)] int[] Experts,
    [property: Id(7)] int[] Replicas,
    [property: Id(8)] long[] Tokens)
{
    public static ExpertLoadWindowDto From(ExpertLoadWindow w)
    {
        ArgumentNullException.ThrowIfNull(w);
        return new(
            w.Silo.Value, w.Window, w.FirstPlacementVersion, w.PlacementVersion, w.Duration.Ticks,
            [.. w.Counts.Select(c => c.Layer)], [.. w.Counts.Select(c => c.Expert)], [.. w.Counts.Select(c => c.Replica)], [.. w.Counts.Select(c => c.Tokens)]);
    }

    public ExpertLoadWindow ToWindow()
    {
        if (Experts.Length != Layers.Length || Replicas.Length != Layers.Length || Tokens.Length != Layers.Length)
        {
            throw new ArgumentException($"a load window's arrays differ in length ({Layers.Length}, {Experts.Length}, {Replicas.Length}, {Tokens.Length})");
        }

        var counts = new ExpertReplicaLoad[Layers.Length];
        for (int i = 0; i < counts.Length; i++)
        {
            counts[i] = new ExpertReplicaLoad(Layers[i], Experts[i], Replicas[i], Tokens[i]);
        }

        return new ExpertLoadWindow(new SiloId(Silo), Window, FirstPlacementVersion, PlacementVersion, TimeSpan.FromTicks(DurationTicks), counts);
    }
}
