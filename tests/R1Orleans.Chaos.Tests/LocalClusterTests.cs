using System.Net;
using System.Net.Sockets;
using R1Orleans.Client.Chaos;

namespace R1Orleans.Chaos.Tests;

/// <summary>
/// The harness's cluster on loopback (a real redis-server and silo): a port probed free for a silo can be taken by another
/// program before the silo binds it; the silo then exits saying so, and the harness starts it again on other ports.
/// </summary>
public sealed class LocalClusterTests
{
    [Fact]
    public async Task A_silo_whose_port_was_taken_before_it_bound_it_is_started_again_on_other_ports_and_the_cluster_becomes_ready()
    {
        string directory = Directory.CreateTempSubdirectory("r1-chaos-ports-").FullName;
        using var holder = new TcpListener(IPAddress.Loopback, LoopbackPorts.Free());
        holder.Start();
        int taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        int picks = 0;
        int FirstTakenThenFree() => Interlocked.Increment(ref picks) == 1 ? taken : LoopbackPorts.Free();
        try
        {
            string silo = Path.Combine(AppContext.BaseDirectory, SiloLocator.DllName);
            await using LocalCluster cluster = await LocalCluster.StartAsync(silo, silos: 1, gateways: 1, ["--kv-cache-tokens", "4096"], directory, CancellationToken.None, FirstTakenThenFree);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await cluster.WaitReadyAsync(new ClusterStatusReader(http), TimeSpan.FromSeconds(90), CancellationToken.None);

            SiloInstance s0 = Assert.Single(cluster.Silos);
            Assert.True(s0.Running);
            string log = File.ReadAllText(s0.Process.LogPath);
            Assert.Contains($"--silo-port {taken} ", log, StringComparison.Ordinal);
            Assert.Contains($"port {taken} (--silo-port) is already in use", log, StringComparison.Ordinal);
            Assert.Equal(2, log.Split('\n').Count(l => l.StartsWith("# ", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
