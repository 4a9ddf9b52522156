using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// Free loopback ports for the processes the harness starts (and the tests that start silos and redis-servers: they
/// compile this file in), and a wait for one to accept. Chosen below the kernel's ephemeral range
/// (<c>/proc/sys/net/ipv4/ip_local_port_range</c>) and checked by binding: a port probed free inside that range can be
/// taken as the source port of another process's outgoing connection before the silo it is for binds it (it happened in
/// a CI run, as in Orleans' own tests, dotnet/orleans#11186). Where the range leaves no room below it (or there is no
/// such file), the OS picks one (bind port 0). Another program can still take a port between the probe and the bind;
/// <see cref="SiloInstance.RestartIfPortTakenAsync"/> starts such a silo again.
/// </summary>
public static class LoopbackPorts
{
    private const int Lowest = 10_000;

    /// <summary>
    /// Every port handed out: the silos of one cluster start side by side, each binding its ports only a second or two
    /// after they were probed free, so a port probed again in between would look free twice.
    /// </summary>
    private static readonly HashSet<int> s_handedOut = [];
    private static readonly Lock s_lock = new();

    public static int Free()
    {
        int below = EphemeralLow();
        if (below - Lowest >= 1_000)
        {
            for (int attempt = 0; attempt < 64; attempt++)
            {
                int port = Random.Shared.Next(Lowest, below);
                lock (s_lock)
                {
                    if (!s_handedOut.Contains(port) && Bindable(port))
                    {
                        s_handedOut.Add(port);
                        return port;
                    }
                }
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool Bindable(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The lowest port of the kernel's ephemeral range, or 0 where it cannot be read.</summary>
    public static int EphemeralLow()
    {
        try
        {
            string[] range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return range.Length >= 1 && int.TryParse(range[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int low) ? low : 0;
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Whether something accepts connections on 127.0.0.1:<paramref name="port"/> within <paramref name="timeout"/>.</summary>
    public static async Task<bool> AcceptsAsync(int port, TimeSpan timeout, Func<bool> gaveUp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(gaveUp);
        for (var deadline = DateTime.UtcNow + timeout; DateTime.UtcNow < deadline && !gaveUp(); await Task.Delay(50, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
            }
        }

        return false;
    }
}
