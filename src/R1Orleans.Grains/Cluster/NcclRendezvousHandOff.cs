using R1Orleans.Placement.Communicators;

namespace R1Orleans.Grains.Cluster;

/// <summary>A <see cref="UniqueIdHandOff"/> whose posts and lookups go to the cluster's <see cref="INcclRendezvousGrain"/>.</summary>
public static class NcclRendezvousHandOff
{
    public static UniqueIdHandOff Over(IGrainFactory grains)
    {
        ArgumentNullException.ThrowIfNull(grains);
        INcclRendezvousGrain grain = grains.GetGrain<INcclRendezvousGrain>(INcclRendezvousGrain.DefaultKey);
        return new UniqueIdHandOff(
            async (generation, poster, id) => (await grain.Post(CommunicatorGenerationDto.From(generation), poster.Value, id).ConfigureAwait(false)).ToReply(),
            async (generation, asker) => (await grain.Lookup(CommunicatorGenerationDto.From(generation), asker.Value).ConfigureAwait(false)).ToReply());
    }
}
