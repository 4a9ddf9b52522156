using System.Diagnostics;
using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// Watches the silos the harness started and writes an <c>exited</c> record for each that ends by itself (not killed or
/// terminated by a fault): a crash, or a silo that stopped itself (after being declared dead, say). Not a violation in
/// itself; the summary shows it beside the faults, and the requests it fails are judged as usual. A silo that exits
/// because a port probed free for it was taken before it bound it (a joining silo, say) is started again on other ports
/// instead (<see cref="SiloInstance.RestartIfPortTakenAsync"/>; its log shows each start): the harness's doing, not the
/// cluster's.
/// </summary>
public static class ExitWatcher
{
    public const string Kind = "exited";

    public static async Task RunAsync(LocalCluster cluster, HistoryWriter history, Stopwatch clock, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(history);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            while (true)
            {
                await CheckAsync(cluster, history, clock, seen).ConfigureAwait(false);
                await Task.Delay(StatusProbe.Interval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await CheckAsync(cluster, history, clock, seen).ConfigureAwait(false);
        }
    }

    private static async Task CheckAsync(LocalCluster cluster, HistoryWriter history, Stopwatch clock, HashSet<string> seen)
    {
        foreach (SiloInstance s in cluster.Silos.Where(s => !s.Gone && s.Process.HasExited && !seen.Contains(s.Name)))
        {
            if (await s.RestartIfPortTakenAsync().ConfigureAwait(false))
            {
                continue;
            }

            seen.Add(s.Name);
            history.Write(new FaultRecord(Kind, s.Name, clock.Elapsed.TotalSeconds, s.Process.Pid,
                string.Create(CultureInfo.InvariantCulture, $"exited by itself with code {s.Process.ExitCode}; its log: {s.Process.LogPath}")));
        }
    }
}
