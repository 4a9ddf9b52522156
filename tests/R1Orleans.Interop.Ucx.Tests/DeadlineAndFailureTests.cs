namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>Deadlines, late replies, cancellation and handler failures between two in-process nodes.</summary>
public sealed class DeadlineAndFailureTests
{
    [Theory]
    [InlineData("shm")]
    [InlineData("tcp")]
    public async Task Handler_that_never_replies_fails_the_call_with_DeadlineExceeded_naming_peer_and_deadline(
        string transport)
    {
        using var server = TestTransports.Node(transport, "server");
        using var client = TestTransports.Node(transport, "client");
        server.SetRequestHandler(static (_, _) => { });
        var peer = client.Connect(server.WorkerAddress.Span, "silent-holder");
        var deadline = TimeSpan.FromMilliseconds(150);

        var error = await Assert.ThrowsAsync<DeadlineExceededException>(
            () => client.CallAsync(peer, new byte[64], deadline).WaitAsync(TestBounds.Guard));

        Assert.Equal("silent-holder", error.Peer);
        Assert.Equal(deadline, error.Deadline);
        Assert.Contains("silent-holder", error.Message);
        Assert.Contains("150", error.Message);
        Assert.False(peer.IsFailed);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(1 << 20)]
    public async Task Late_reply_after_the_deadline_is_discarded_and_the_next_call_gets_its_own_reply(int size)
    {
        using var server = TestTransports.Node("shm", "server");
        using var client = TestTransports.Node("shm", "client");
        ReplyWriter? held = null;
        var first = true;
        server.SetRequestHandler((request, reply) =>
        {
            if (first)
            {
                first = false;
                held = reply; // answer later, after the caller gave up
                return;
            }
            TestPayloads.Echo(request, reply);
        });
        var peer = client.Connect(server.WorkerAddress.Span, "server");

        await Assert.ThrowsAsync<DeadlineExceededException>(
            () => client.CallAsync(peer, TestPayloads.Random(size, 1), TimeSpan.FromMilliseconds(100)).WaitAsync(TestBounds.Guard));
        Assert.NotNull(held);
        held.Send(TestPayloads.Random(size, 99)); // the late reply

        var request = TestPayloads.Random(size, 2);
        using var reply = await client.CallAsync(peer, request, TimeSpan.FromSeconds(20));
        TestPayloads.AssertEcho(request, reply);
    }

    [Fact]
    public async Task Cancelled_call_completes_as_cancelled()
    {
        using var server = TestTransports.Node("shm", "server");
        using var client = TestTransports.Node("shm", "client");
        server.SetRequestHandler(static (_, _) => { });
        var peer = client.Connect(server.WorkerAddress.Span, "server");
        using var cancellation = new CancellationTokenSource();

        var call = client.CallAsync(peer, new byte[8], TimeSpan.FromSeconds(30), cancellation.Token);
        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TestBounds.Guard));
    }

    [Fact]
    public async Task Handler_that_throws_fails_the_call_with_RemoteHandlerException_at_once()
    {
        using var server = TestTransports.Node("tcp", "server");
        using var client = TestTransports.Node("tcp", "client");
        server.SetRequestHandler(static (_, _) => throw new InvalidOperationException("boom"));
        var peer = client.Connect(server.WorkerAddress.Span, "throwing-holder");

        var error = await Assert.ThrowsAsync<RemoteHandlerException>(
            () => client.CallAsync(peer, new byte[8], TimeSpan.FromSeconds(30)));

        Assert.Equal("throwing-holder", error.Peer);
    }

    [Fact]
    public async Task Node_disposed_by_its_peer_fails_the_call_with_PeerUnreachable_naming_the_peer()
    {
        using var client = TestTransports.Node("tcp", "client");
        var server = TestTransports.Node("tcp", "server");
        server.SetRequestHandler(TestPayloads.Echo);
        var peer = client.Connect(server.WorkerAddress.Span, "departing-holder");
        using (await client.CallAsync(peer, new byte[8], TimeSpan.FromSeconds(20)))
        {
        }
        server.SetRequestHandler(static (_, _) => { });
        var pending = client.CallAsync(peer, new byte[8], TimeSpan.FromSeconds(30));

        server.Dispose();

        var error = await Assert.ThrowsAsync<PeerUnreachableException>(() => pending.WaitAsync(TestBounds.Guard));
        Assert.Equal("departing-holder", error.Peer);
        Assert.True(peer.IsFailed);
        await Assert.ThrowsAsync<PeerUnreachableException>(() => client.CallAsync(peer, new byte[8], TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Disposing_the_node_fails_its_outstanding_calls()
    {
        using var server = TestTransports.Node("shm", "server");
        var client = TestTransports.Node("shm", "client");
        server.SetRequestHandler(static (_, _) => { });
        var peer = client.Connect(server.WorkerAddress.Span, "server");
        var pending = client.CallAsync(peer, new byte[8], TimeSpan.FromSeconds(30));

        client.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.WaitAsync(TestBounds.Guard));
        Assert.Throws<ObjectDisposedException>(() => { _ = client.CallAsync(peer, new byte[8], TimeSpan.FromSeconds(1)); });
    }
}
