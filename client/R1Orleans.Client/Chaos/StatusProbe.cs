using System.Diagnostics;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// Polls a running gateway's <c>/cluster/status</c> while the workload runs and writes a <see cref="StatusRecord"/> each
/// time what it shows changes (and the last one at the end): the client-side clock of detection and recovery. Bounded by
/// the run's cancellation.
/// </summary>
public static class StatusProbe
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    public static async Task RunAsync(ClusterStatusReader reader, Func<IReadOnlyList<(string Name, Uri Url)>> gateways, HistoryWriter history, Stopwatch clock, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(gateways);
        ArgumentNullException.ThrowIfNull(history);
        ClusterSnapshot? last = null;
        StatusRecord? unwritten = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                foreach ((string name, Uri url) in gateways().Take(1))
                {
                    double time = clock.Elapsed.TotalSeconds;
                    if (await reader.ReadAsync(url, cancellationToken).ConfigureAwait(false) is { } snapshot)
                    {
                        var record = new StatusRecord(time, name, snapshot.Silos, snapshot.Version, snapshot.PendingVersion, snapshot.ExpertsCovered);
                        unwritten = snapshot.SameAs(last) ? record : null;
                        if (unwritten is null)
                        {
                            history.Write(record);
                            last = snapshot;
                        }
                    }
                }

                await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        // The last observation, unchanged or not, so the history shows how long the cluster was watched.
        if (unwritten is not null)
        {
            history.Write(unwritten);
        }
    }
}
