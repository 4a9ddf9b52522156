using System.Net;
using System.Net.Sockets;
using R1Orleans.Client.Chaos;

namespace R1Orleans.Client.Tests;

/// <summary>
/// The harness's free ports lie below the kernel's ephemeral range, where no outgoing connection takes them, are free, and
/// are never handed out twice (the silos of a cluster bind theirs a second or two after the harness picked them).
/// </summary>
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

    [Fact]
    public void No_port_is_handed_out_twice_even_while_the_ports_handed_out_are_not_yet_bound()
    {
        // A thousand draws from the ~22,000 ports below the range would repeat one almost surely if each draw only probed.
        int[] ports = [.. Enumerable.Range(0, 1_000).Select(_ => LoopbackPorts.Free())];
        Assert.Equal(ports.Length, ports.Distinct().Count());
    }
}
