using System.Net;
using System.Net.Sockets;

namespace R1Orleans.Tests.Shared;

/// <summary>Loopback ports the OS hands out (bind port 0), for the processes and hosts a test starts.</summary>
internal static class TestPorts
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
