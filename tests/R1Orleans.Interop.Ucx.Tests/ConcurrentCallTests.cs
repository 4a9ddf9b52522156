using System.Buffers.Binary;

namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>Many calls in flight at once, to several peers, each answered with its own reply.</summary>
public sealed class ConcurrentCallTests
{
    [Theory]
    [InlineData("shm")]
    [InlineData("tcp")]
    public async Task Concurrent_calls_from_several_ranks_to_several_holders_each_get_their_own_reply(string transport)
    {
        // Three nodes, each a rank and a holder at once: every node calls both others from several tasks.
        var nodes = new[]
        {
            TestTransports.Node(transport, "silo-0"),
            TestTransports.Node(transport, "silo-1"),
            TestTransports.Node(transport, "silo-2"),
        };
        try
        {
            foreach (var node in nodes)
                node.SetRequestHandler(TestPayloads.Echo);
            var sizes = new[] { 16, 4096, 70_000, 300_000 };
            var calls = new List<Task>();
            for (var from = 0; from < nodes.Length; from++)
            {
                for (var to = 0; to < nodes.Length; to++)
                {
                    if (from == to)
                        continue;
                    var peer = nodes[from].Connect(nodes[to].WorkerAddress.Span, $"silo-{to}");
                    for (var task = 0; task < 4; task++)
                        calls.Add(CallRepeatedly(nodes[from], peer, seed: (from * 10 + to) * 10 + task, sizes));
                }
            }
            await Task.WhenAll(calls);
        }
        finally
        {
            foreach (var node in nodes)
                node.Dispose();
        }
    }

    private static async Task CallRepeatedly(UcxNode node, UcxPeer peer, int seed, int[] sizes)
    {
        await Task.Yield();
        for (var i = 0; i < 12; i++)
        {
            var request = TestPayloads.Random(sizes[(seed + i) % sizes.Length], seed * 100 + i);
            BinaryPrimitives.WriteInt32LittleEndian(request, seed * 100 + i);
            using var reply = await node.CallAsync(peer, request, TimeSpan.FromSeconds(30));
            TestPayloads.AssertEcho(request, reply);
        }
    }

    [Fact]
    public async Task Replies_completed_out_of_order_reach_their_own_callers()
    {
        using var server = TestTransports.Node("shm", "server");
        using var client = TestTransports.Node("shm", "client");
        var held = new List<(byte[] Request, ReplyWriter Reply)>();
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.SetRequestHandler((request, reply) =>
        {
            lock (held)
            {
                held.Add((request.ToArray(), reply));
                if (held.Count == 8)
                    allArrived.SetResult();
            }
        });
        var peer = client.Connect(server.WorkerAddress.Span, "server");
        var requests = Enumerable.Range(0, 8).Select(i => TestPayloads.Random(1000 + i, i)).ToArray();
        var calls = requests.Select(r => client.CallAsync(peer, r, TimeSpan.FromSeconds(30))).ToArray();
        await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Reply from another thread, last request first.
        await Task.Run(() =>
        {
            for (var i = held.Count - 1; i >= 0; i--)
            {
                var output = held[i].Reply.GetSpan(held[i].Request.Length);
                for (var j = 0; j < output.Length; j++)
                    output[j] = (byte)(held[i].Request[j] ^ TestPayloads.Mask);
                held[i].Reply.Send();
            }
        });

        for (var i = 0; i < calls.Length; i++)
        {
            using var reply = await calls[i];
            TestPayloads.AssertEcho(requests[i], reply);
        }
    }
}
