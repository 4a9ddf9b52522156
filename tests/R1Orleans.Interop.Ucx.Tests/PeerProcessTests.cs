using System.Diagnostics;
using R1Orleans.Interop.Ucx.TestPeer;
using Xunit.Abstractions;

namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>
/// A second process as peer (the TestPeer's serve mode; its worker address comes over its stdout): round trips,
/// then the peer is killed (SIGKILL) or stopped (SIGSTOP) and the next call must fail, not hang.
/// </summary>
public sealed class PeerProcessTests(ITestOutputHelper output)
{
    private static ChildPeer StartPeer(string transport)
    {
        var (args, environment) = TestTransports.ForChild(transport);
        return ChildPeer.Start(typeof(ChildPeer).Assembly.Location, args, environment);
    }

    [Theory]
    [InlineData("shm")]
    [InlineData("tcp")]
    public async Task Killed_peer_process_fails_the_next_call_with_PeerUnreachable(string transport)
    {
        using var child = StartPeer(transport);
        using var node = TestTransports.Node(transport, "rank", output.WriteLine);
        var peer = node.Connect(child.Address, "peer-process");
        foreach (var size in new[] { 1, 65536, 4 << 20 })
        {
            var request = TestPayloads.Random(size, size);
            using var reply = await node.CallAsync(peer, request, TimeSpan.FromSeconds(20));
            TestPayloads.AssertEcho(request, reply);
        }

        var killed = Stopwatch.GetTimestamp();
        child.Process.Kill();
        // TCP sees the reset at once; shared memory through UCX's keepalive (the node's 200 ms default), which
        // finds the peer's process gone. Either way well before this deadline.
        var error = await Assert.ThrowsAsync<PeerUnreachableException>(
            () => node.CallAsync(peer, new byte[4096], TimeSpan.FromSeconds(10)).WaitAsync(TestBounds.Guard));
        output.WriteLine($"{transport}: {error.GetType().Name} {Stopwatch.GetElapsedTime(killed).TotalMilliseconds:0.0} ms " +
            $"after the kill: {error.Message}");
        Assert.Equal("peer-process", error.Peer);
        Assert.True(peer.IsFailed);
    }

    [Theory]
    [InlineData("shm")]
    [InlineData("tcp")]
    public async Task Stopped_peer_process_fails_the_call_with_DeadlineExceeded(string transport)
    {
        using var child = StartPeer(transport);
        var pid = child.Process.Id;
        using var node = TestTransports.Node(transport, "rank", output.WriteLine);
        var peer = node.Connect(child.Address, "paused-peer");
        var request = TestPayloads.Random(65536, 7);
        using (var reply = await node.CallAsync(peer, request, TimeSpan.FromSeconds(20)))
            TestPayloads.AssertEcho(request, reply);
        ChildSignals.Send(pid, ChildSignals.SigStop);
        try
        {
            ChildSignals.WaitUntilStopped(pid, TimeSpan.FromSeconds(10));
            var start = Stopwatch.GetTimestamp();
            var error = await Assert.ThrowsAsync<DeadlineExceededException>(
                () => node.CallAsync(peer, request, TimeSpan.FromMilliseconds(300)).WaitAsync(TestBounds.Guard));
            output.WriteLine($"{transport}: {error.Message} after {Stopwatch.GetElapsedTime(start).TotalMilliseconds:0.0} ms");
            Assert.Equal("paused-peer", error.Peer);
            Assert.False(peer.IsFailed);
        }
        finally
        {
            ChildSignals.Send(pid, ChildSignals.SigCont);
            child.Process.Kill();
        }
    }

    [Fact]
    public void UCX_environment_variables_select_the_transports_of_a_node()
    {
        // The child reads UCX_TLS from its environment (no override): shared memory only. A TCP-only node then has
        // no transport in common with it, which UCX reports when the endpoint is created.
        using var child = ChildPeer.Start(typeof(ChildPeer).Assembly.Location, [],
            new Dictionary<string, string> { ["UCX_TLS"] = "posix,cma,self" });
        using var node = TestTransports.Node("tcp", "tcp-only");

        var error = Assert.Throws<UcxException>(() => node.Connect(child.Address, "shm-only-peer"));

        Assert.Equal("ucp_ep_create", error.Call);
        Assert.Equal("Destination is unreachable", error.StatusText);
    }
}
