using R1Orleans.Grains.Balancing;

namespace R1Orleans.Cluster;

/// <summary>The Orleans stream the silos publish expert load windows on (memory streams: lossy, fine for statistics).</summary>
public static class LoadStreamsSetup
{
    public static ISiloBuilder AddR1LoadStreams(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.AddMemoryStreams(LoadStreams.Provider);
        silo.AddMemoryGrainStorage(LoadStreams.PubSubStore);
        return silo;
    }
}
