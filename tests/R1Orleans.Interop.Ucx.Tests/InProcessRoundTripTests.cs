namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>Two nodes in one process exchange requests and replies over shared memory and over TCP.</summary>
public sealed class InProcessRoundTripTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var transport in new[] { "shm", "tcp" })
        {
            foreach (var size in new[] { 1, 4096, 65536, 4 << 20, 8 << 20 })
                data.Add(transport, size);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Reply_is_the_handlers_output_bit_for_bit(string transport, int size)
    {
        using var server = TestTransports.Node(transport, "server");
        using var client = TestTransports.Node(transport, "client");
        server.SetRequestHandler(TestPayloads.Echo);
        var peer = client.Connect(server.WorkerAddress.Span, "server");
        var request = TestPayloads.Random(size, seed: size);

        using (var reply = await client.CallAsync(peer, request, Deadline))
            TestPayloads.AssertEcho(request, reply);

        // A second call on the warm endpoint (rendezvous buffers come back from the pool).
        var second = TestPayloads.Random(size, seed: size + 1);
        using (var reply = await client.CallAsync(peer, second, Deadline))
            TestPayloads.AssertEcho(second, reply);
    }

    [Fact]
    public async Task Empty_request_gets_an_empty_reply()
    {
        using var server = TestTransports.Node("shm", "server");
        using var client = TestTransports.Node("shm", "client");
        server.SetRequestHandler(static (request, reply) => reply.Send(request));
        var peer = client.Connect(server.WorkerAddress.Span, "server");
        using var reply = await client.CallAsync(peer, ReadOnlyMemory<byte>.Empty, Deadline);
        Assert.Equal(0, reply.Length);
    }

    [Fact]
    public async Task Handler_sees_the_request_and_the_calling_peer_can_be_served_in_both_directions()
    {
        using var a = TestTransports.Node("tcp", "a");
        using var b = TestTransports.Node("tcp", "b");
        a.SetRequestHandler(static (request, reply) => reply.Send([.. request, (byte)'a']));
        b.SetRequestHandler(static (request, reply) => reply.Send([.. request, (byte)'b']));
        var bFromA = a.Connect(b.WorkerAddress.Span, "b");
        var aFromB = b.Connect(a.WorkerAddress.Span, "a");

        using var fromB = await a.CallAsync(bFromA, "x"u8.ToArray(), Deadline);
        using var fromA = await b.CallAsync(aFromB, "y"u8.ToArray(), Deadline);

        Assert.Equal("xb"u8.ToArray(), fromB.Span.ToArray());
        Assert.Equal("ya"u8.ToArray(), fromA.Span.ToArray());
    }

    [Fact]
    public void Connecting_twice_to_one_address_gives_the_same_peer()
    {
        using var server = TestTransports.Node("shm", "server");
        using var client = TestTransports.Node("shm", "client");
        var first = client.Connect(server.WorkerAddress.Span, "server");
        var second = client.Connect(server.WorkerAddress.Span, "server again");
        Assert.Same(first, second);
    }

    [Fact]
    public async Task Handler_can_connect_to_a_third_node_on_the_progress_thread_without_waiting_on_itself()
    {
        using var holder = TestTransports.Node("shm", "holder");
        using var rank = TestTransports.Node("shm", "rank");
        using var third = TestTransports.Node("shm", "third");
        var thirdAddress = third.WorkerAddress.ToArray();
        holder.SetRequestHandler((_, reply) =>
        {
            var peer = holder.Connect(thirdAddress, "third-from-handler");
            reply.Send(System.Text.Encoding.UTF8.GetBytes(peer.Name));
        });
        var peer = rank.Connect(holder.WorkerAddress.Span, "holder");

        using var reply = await rank.CallAsync(peer, new byte[1], Deadline);

        Assert.Equal("third-from-handler", System.Text.Encoding.UTF8.GetString(reply.Span));
    }

    [Fact]
    public void Deadline_must_be_positive_or_infinite()
    {
        using var server = TestTransports.Node("shm", "server");
        using var client = TestTransports.Node("shm", "client");
        var peer = client.Connect(server.WorkerAddress.Span, "server");
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = client.CallAsync(peer, new byte[1], TimeSpan.Zero); });
    }

    [Fact]
    public async Task Call_with_an_infinite_deadline_gets_its_reply()
    {
        using var server = TestTransports.Node("tcp", "server");
        using var client = TestTransports.Node("tcp", "client");
        server.SetRequestHandler(TestPayloads.Echo);
        var peer = client.Connect(server.WorkerAddress.Span, "server");
        var request = TestPayloads.Random(3000, 5);
        using var reply = await client.CallAsync(peer, request, Timeout.InfiniteTimeSpan).WaitAsync(TestBounds.Guard);
        TestPayloads.AssertEcho(request, reply);
    }
}
