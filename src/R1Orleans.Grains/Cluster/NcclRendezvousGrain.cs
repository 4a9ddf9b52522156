using Microsoft.Extensions.Logging;
using R1Orleans.Placement;
using R1Orleans.Placement.Communicators;

namespace R1Orleans.Grains.Cluster;

/// <summary>
/// The grain over <see cref="NcclRendezvous"/>. In memory and kept alive: if its silo is lost, the new activation holds
/// nothing, lookups answer Pending, and rank 0 posts its id again (or the next generation's).
/// </summary>
[KeepAlive]
public sealed partial class NcclRendezvousGrain(ILogger<NcclRendezvousGrain> logger) : Grain, INcclRendezvousGrain
{
    private readonly NcclRendezvous _rendezvous = new();

    public Task<RendezvousReplyDto> Post(CommunicatorGenerationDto generation, string poster, byte[] uniqueId)
    {
        ArgumentNullException.ThrowIfNull(generation);
        ArgumentNullException.ThrowIfNull(uniqueId);
        CommunicatorGeneration g = generation.ToGeneration();
        RendezvousReply reply = _rendezvous.Post(g, new SiloId(poster), uniqueId);
        if (reply.Status == RendezvousStatus.Ready)
        {
            LogPosted(logger, g.Name, poster);
        }
        else
        {
            LogRefused(logger, g.Name, poster, reply.Reason ?? reply.Status.ToString());
        }

        return Task.FromResult(RendezvousReplyDto.From(reply));
    }

    public Task<RendezvousReplyDto> Lookup(CommunicatorGenerationDto generation, string asker)
    {
        ArgumentNullException.ThrowIfNull(generation);
        return Task.FromResult(RendezvousReplyDto.From(_rendezvous.Lookup(generation.ToGeneration(), new SiloId(asker))));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "NCCL communicator {Name}: unique id posted by rank 0 ({Silo})")]
    private static partial void LogPosted(ILogger logger, string name, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NCCL communicator {Name}: post from {Silo} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string name, string silo, string reason);
}
