using R1Orleans.Grains.Cluster;
using R1Orleans.Grains.Ranks;

namespace R1Orleans.Cluster;

/// <summary>What <c>POST /cluster/drain</c> and <c>POST /cluster/faults/delay</c> answer.</summary>
public sealed record ClusterControlReply(string Silo, string Message);

/// <summary>Operations on one member, from any silo: drain it (<c>r1 cluster drain</c>), or inject a reply delay (chaos).</summary>
public static class ClusterControl
{
    /// <summary>Starts draining the member <paramref name="name"/> names (<see cref="SiloSelector"/>).</summary>
    public static async Task<ClusterControlReply> DrainAsync(IGrainFactory grains, string name)
    {
        string silo = await ResolveAsync(grains, name).ConfigureAwait(false);
        string message = await grains.GetGrain<IRankGrain>(silo).Drain().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return new ClusterControlReply(silo, message);
    }

    /// <summary>Delays the expert replies of the member <paramref name="name"/> names (it must run with --fault-injection).</summary>
    public static async Task<ClusterControlReply> DelayAsync(IGrainFactory grains, string name, TimeSpan delay, TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(delay, TimeSpan.FromMinutes(10));
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(duration, TimeSpan.FromHours(1));
        string silo = await ResolveAsync(grains, name).ConfigureAwait(false);
        await grains.GetGrain<IRankGrain>(silo).InjectReplyDelay((int)delay.TotalMilliseconds, (int)duration.TotalMilliseconds).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return new ClusterControlReply(silo, $"silo {silo} answers expert steps {delay.TotalMilliseconds:0} ms late for {duration.TotalSeconds:0.###} s");
    }

    private static async Task<string> ResolveAsync(IGrainFactory grains, string name)
    {
        ArgumentNullException.ThrowIfNull(grains);
        PlacementSnapshot snapshot = await grains.GetGrain<IPlacementDirectoryGrain>(IPlacementDirectoryGrain.DefaultKey).Snapshot().ConfigureAwait(false);
        return SiloSelector.Resolve(name, [.. snapshot.Members.Select(m => (m.Silo, m.Node))]);
    }
}
