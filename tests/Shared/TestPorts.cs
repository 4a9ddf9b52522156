using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace R1Orleans.Tests.Shared;

/// <summary>
/// Free loopback ports for the processes and hosts a test starts, chosen below the kernel's ephemeral range
/// (<c>/proc/sys/net/ipv4/ip_local_port_range</c>) and checked by binding: a port probed free inside that range can be
/// taken as the source port of some process's outgoing connection in the seconds before the silo it is for binds it
/// (it happened in a CI run, as in Orleans' own tests, dotnet/orleans#11186). Where the range leaves no room below it
/// (or there is no such file), the OS picks one (bind port 0). The same rule as the chaos harness's LoopbackPorts.
/// </summary>
internal static class TestPorts
{
    private const int Lowest = 10_000;

    public static int Free()
    {
        int below = EphemeralLow();
        if (below - Lowest >= 1_000)
        {
            for (int attempt = 0; attempt < 64; attempt++)
            {
                int port = Random.Shared.Next(Lowest, below);
                if (Bindable(port))
                {
                    return port;
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

    private static int EphemeralLow()
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
}
