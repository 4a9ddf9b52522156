using System.Diagnostics;
using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// Watches the silos the harness started and writes an <c>exited</c> record for each that ends by itself (not killed or
/// terminated by a fault): a crash, or a silo that stopped itself (after being declared dead, say). Not a violation in
/// itself; the summary shows it beside the faults, and the requests it fails are judged as usual.
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
                Check(cluster, history, clock, seen);
                await Task.Delay(StatusProbe.Interval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Check(cluster, history, clock, seen);
        }
    }

    private static void Check(LocalCluster cluster, HistoryWriter history, Stopwatch clock, HashSet<string> seen)
    {
        foreach (SiloInstance s in cluster.Silos.Where(s => !s.Gone && s.Process.HasExited && seen.Add(s.Name)))
        {
            history.Write(new FaultRecord(Kind, s.Name, clock.Elapsed.TotalSeconds, s.Process.Pid,
                string.Create(CultureInfo.InvariantCulture, $"exited by itself with code {s.Process.ExitCode}; its log: {s.Process.LogPath}")));
        }
    }
}
