using System.Net;
using System.Net.Sockets;

namespace R1Orleans.Client.Chaos;

/// <summary>Free loopback ports, from the OS (bind port 0), for the processes the harness starts; and a wait for one to accept.</summary>
public static class LoopbackPorts
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
