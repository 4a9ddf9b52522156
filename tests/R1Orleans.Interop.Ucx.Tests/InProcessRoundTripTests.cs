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
}
