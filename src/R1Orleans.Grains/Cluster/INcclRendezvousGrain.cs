namespace R1Orleans.Grains.Cluster;

/// <summary>
/// The cluster's NCCL rendezvous (one activation, key <see cref="DefaultKey"/>), thin over
/// <see cref="R1Orleans.Placement.Communicators.NcclRendezvous"/>: rank 0 of a communicator generation (a placement map's
/// stamp and members) posts the unique id it made, the other ranks look it up and build their communicator with it.
/// </summary>
[Alias("R1Orleans.INcclRendezvousGrain")]
public interface INcclRendezvousGrain : IGrainWithStringKey
{
    public const string DefaultKey = "default";

    /// <summary>Rank 0 (<paramref name="poster"/>) posts the 128-byte unique id of <paramref name="generation"/>.</summary>
    [Alias("Post")]
    Task<RendezvousReplyDto> Post(CommunicatorGenerationDto generation, string poster, byte[] uniqueId);

    /// <summary>A rank (<paramref name="asker"/>) asks for the unique id of <paramref name="generation"/> (Pending until rank 0 posted it).</summary>
    [Alias("Lookup")]
    Task<RendezvousReplyDto> Lookup(CommunicatorGenerationDto generation, string asker);
}
