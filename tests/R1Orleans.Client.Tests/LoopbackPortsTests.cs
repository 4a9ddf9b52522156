using System.Net;
using System.Net.Sockets;
using R1Orleans.Client.Chaos;

namespace R1Orleans.Client.Tests;

/// <summary>The harness's free ports lie below the kernel's ephemeral range, where no outgoing connection takes them, and are free.</summary>
public sealed class LoopbackPortsTests
{
    [Fact]
    public void A_free_port_is_below_the_ephemeral_range_and_can_be_bound()
    {
        int low = LoopbackPorts.EphemeralLow();
        Assert.True(low > 11_000, $"this machine's ephemeral range starts at {low}; the test expects Linux's usual range");
        for (int i = 0; i < 20; i++)
        {
            int port = LoopbackPorts.Free();
            Assert.InRange(port, 10_000, low - 1);
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }
}
