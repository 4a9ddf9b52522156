using R1Orleans.Placement;
using R1Orleans.Placement.Communicators;

namespace R1Orleans.Grains.Cluster;

/// <summary>A communicator generation on the wire: the placement stamp and the silos in rank order.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.CommunicatorGenerationDto")]
public sealed record CommunicatorGenerationDto(
    [property: Id(0)] long Version,
    [property: Id(1)] long Epoch,
    [property: Id(2)] string[] Ranks)
{
    public static CommunicatorGenerationDto From(CommunicatorGeneration generation)
    {
        ArgumentNullException.ThrowIfNull(generation);
        return new(generation.Stamp.Version, generation.Stamp.Epoch, [.. generation.Ranks.Select(r => r.Value)]);
    }

    public CommunicatorGeneration ToGeneration() => new(new PlacementStamp(Version, Epoch), Ranks.Select(r => new SiloId(r)));
}

/// <summary>The rendezvous' answer on the wire: the unique id when the status is Ready, else the reason, and the generation it holds.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.RendezvousReplyDto")]
public sealed record RendezvousReplyDto(
    [property: Id(0)] RendezvousStatus Status,
    [property: Id(1)] byte[]? UniqueId,
    [property: Id(2)] string? Reason,
    [property: Id(3)] CommunicatorGenerationDto? Held)
{
    public static RendezvousReplyDto From(RendezvousReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return new(reply.Status, reply.UniqueId, reply.Reason, reply.Held is null ? null : CommunicatorGenerationDto.From(reply.Held));
    }

    public RendezvousReply ToReply() => new(Status, UniqueId, Reason, Held?.ToGeneration());
}
