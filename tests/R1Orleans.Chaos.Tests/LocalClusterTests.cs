using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using R1Orleans.Client.Chaos;

namespace R1Orleans.Chaos.Tests;

/// <summary>
/// The harness's cluster on loopback (a real redis-server and silos): a port probed free for a silo can be taken by
/// another program before the silo binds it; the silo then exits saying so, and the harness starts it again on other
/// ports, whether it was starting with the cluster or joining it later (then the exit watcher does, and records no exit).
/// </summary>
public sealed class LocalClusterTests
{
    [Fact]
    public Task A_silo_whose_port_was_taken_before_it_bound_it_is_started_again_on_other_ports_and_the_cluster_becomes_ready() =>
        WithTakenPortAsync((cluster, taken, _) =>
        {
            SiloInstance s0 = Assert.Single(cluster.Silos);
            Assert.True(s0.Running && s0.Started);
            AssertStartedTwice(s0, taken);
            return Task.CompletedTask;
        });

    [Fact]
    public Task A_joining_silo_whose_port_was_taken_is_started_again_by_the_exit_watcher_which_records_no_exit() =>
        WithTakenPortAsync(async (cluster, taken, takeNext) =>
        {
            string historyPath = Path.Combine(Path.GetDirectoryName(cluster.Silos[0].Process.LogPath)!, "history.jsonl");
            using (var history = new HistoryWriter(historyPath))
            using (var stop = new CancellationTokenSource())
            {
                Task watcher = ExitWatcher.RunAsync(cluster, history, Stopwatch.StartNew(), stop.Token);
                takeNext();
                SiloInstance joined = cluster.Add(http: false);
                for (int i = 0; i < 900 && !joined.Started; i++)
                {
                    await Task.Delay(100);
                }

                await stop.CancelAsync();
                await watcher;
                Assert.True(joined.Running && joined.Started, $"the joined silo did not start within 90 s:\n{joined.Process.Tail()}");
                AssertStartedTwice(joined, taken);
            }

            Assert.Empty(HistoryJson.Read(historyPath).OfType<FaultRecord>());
        });

    /// <summary>
    /// Starts a cluster of one HTTP silo whose first port handed out is one the test holds, waits until it is ready, then
    /// runs <paramref name="body"/> with the held port and an action that makes the next port handed out the held one again.
    /// </summary>
    private static async Task WithTakenPortAsync(Func<LocalCluster, int, Action, Task> body)
    {
        string directory = Directory.CreateTempSubdirectory("r1-chaos-ports-").FullName;
        using var holder = new TcpListener(IPAddress.Loopback, LoopbackPorts.Free());
        holder.Start();
        int taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        int giveTaken = 1;
        int Pick() => Interlocked.Exchange(ref giveTaken, 0) == 1 ? taken : LoopbackPorts.Free();
        try
        {
            string silo = Path.Combine(AppContext.BaseDirectory, SiloLocator.DllName);
            await using LocalCluster cluster = await LocalCluster.StartAsync(silo, silos: 1, gateways: 1, ["--kv-cache-tokens", "4096"], directory, CancellationToken.None, Pick);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await cluster.WaitReadyAsync(new ClusterStatusReader(http), TimeSpan.FromSeconds(90), CancellationToken.None);
            await body(cluster, taken, () => Volatile.Write(ref giveTaken, 1));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Its log shows a start on the held port that found it taken, then a second start.</summary>
    private static void AssertStartedTwice(SiloInstance silo, int taken)
    {
        string log = File.ReadAllText(silo.Process.LogPath);
        Assert.Contains($"--silo-port {taken} ", log, StringComparison.Ordinal);
        Assert.Contains($"port {taken} (--silo-port) is already in use", log, StringComparison.Ordinal);
        Assert.Equal(2, log.Split('\n').Count(l => l.StartsWith("# ", StringComparison.Ordinal)));
    }
}
