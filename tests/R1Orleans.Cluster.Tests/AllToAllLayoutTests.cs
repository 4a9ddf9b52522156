using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.Transport;
using R1Orleans.Transport.AllToAll;
using R1Orleans.Transport.Experts;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// DeepEP's all-to-all layout, the one the NCCL exchange moves with grouped ncclSend/ncclRecv: on a small hand-made
/// step its arrays are the expected ones, and with N simulated ranks (pack, an all-to-all by copying between their
/// buffers, unpack, each rank's own experts, the reverse all-to-all, slot-order combine) every rank gets exactly the bits
/// of the in-process exchange.
/// </summary>
public sealed class AllToAllLayoutTests
{
    private static string Tiny => Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");

    [Fact]
    public void A_token_goes_once_to_each_rank_that_runs_any_of_its_slots_and_comes_back_per_slot()
    {
        // Experts 0, 1 on rank 0; 2, 3 on rank 1. Token 0 → rank 0 only, token 1 → rank 1 only, token 2 → both.
        int[] topk = [0, 1, 2, 3, 1, 2];
        int[] holders = [0, 0, 1, 1, 0, 1];

        DispatchSendLayout send = DispatchSendLayout.Build(2, 3, 2, topk, holders);

        Assert.Equal([2, 2], send.SendTokenCounts);
        Assert.Equal([0, 2, 4], send.TokenOffsets);
        Assert.Equal([0, 2, 1, 2], send.SendTokens);
        Assert.Equal([0, 1, 1, -1, 2, 3, -1, 2], send.SlotExperts);
        Assert.Equal([0, 3, 6], send.SlotOffsets);
        Assert.Equal([new AllToAllSegment(0, 0, 2), new AllToAllSegment(1, 2, 2)], send.DispatchSends());

        // This is rank 0's step; rank 1 receives the two rows rank 0 sent it (tokens 1 and 2), none from itself.
        DispatchReceiveLayout receive = DispatchReceiveLayout.Build([2, 0], 2, send.SlotExperts.AsSpan(4, 4));
        Assert.Equal([new AllToAllSegment(0, 0, 2)], receive.DispatchReceives());
        Assert.Equal(receive.DispatchReceives(), DispatchReceiveLayout.ReceiveSegments([2, 0]));
        Assert.Equal([0, 1, 0], receive.RowReceived);
        Assert.Equal([0, 1, 1], receive.RowSlot);
        Assert.Equal([2, 2, 3], receive.RowExpert);
        Assert.Equal([new ExpertGroup(2, 0, 2), new ExpertGroup(3, 2, 1)], receive.Groups);
        Assert.Equal([new AllToAllSegment(0, 0, 3)], receive.CombineSends());

        // The combine goes back per received row, slots ascending: (row 0, slot 0), (row 0, slot 1), (row 1, slot 1).
        float[] combineSend = new float[3];
        receive.PackCombine([10f, 11f, 12f], 1, combineSend);
        Assert.Equal([10f, 12f, 11f], combineSend);
    }

    [Fact]
    public void The_combine_rows_land_at_their_token_and_slot()
    {
        int[] topk = [0, 1, 2, 3, 1, 2];
        int[] holders = [0, 0, 1, 1, 0, 1];
        DispatchSendLayout send = DispatchSendLayout.Build(2, 3, 2, topk, holders);

        // From rank 0: (t0, s0), (t0, s1), (t2, s0); from rank 1: (t1, s0), (t1, s1), (t2, s1).
        float[] expertOut = new float[6];
        send.UnpackCombine([100f, 101f, 120f, 210f, 211f, 221f], 1, expertOut);

        Assert.Equal([100f, 101f, 210f, 211f, 120f, 221f], expertOut);
    }

    [Fact]
    public void A_received_row_without_a_slot_for_this_rank_is_refused()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => DispatchReceiveLayout.Build([1], 2, [-1, -1]));
        Assert.Contains("has no slot for this rank", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => DispatchSendLayout.Build(2, 1, 2, [0, 1], [0, 2]));
    }

    public static TheoryData<string, int[]> Maps() => new()
    {
        { "group-aligned, 3 silos on 3 nodes", [5, 0, 17] },
        { "every expert on another silo than the first, 3 silos", [9, 1, 4] },
        { "2 replicas, 4 silos on 2 nodes", [12, 3, 1, 8] },
    };

    [Theory]
    [MemberData(nameof(Maps))]
    public void Pack_all_to_all_unpack_experts_and_combine_give_the_in_process_bits_on_every_rank(string map, int[] tokensPerRank)
    {
        using CheckpointReader reader = CheckpointReader.Open(Tiny);
        ModelConfig config = reader.Config;
        PlacementMap placement = MapFor(map, config);
        ExpertShard all = ExpertShard.Load(config, new WeightLoader(reader), (_, _) => true, reader.HasMtp);
        ExpertShard[] shards = [.. placement.Members.Select(m => ExpertShard.Load(config, new WeightLoader(reader), (l, e) => placement.Holds(m.Silo, l, e), reader.HasMtp))];
        int hidden = config.HiddenSize, k = config.NumExpertsPerTok, experts = config.NRoutedExperts;
        var rng = new Random(20261205);

        foreach (int layer in placement.Layout.MoeLayers)
        {
            float[][] xs = [.. tokensPerRank.Select(n => RandomRows(rng, n * hidden))];
            ExpertRouting[] routings = [.. tokensPerRank.Select(n => RandomRouting(rng, n, k, experts))];

            float[][] ys = SimulatedAllToAll(placement, shards, layer, xs, routings, hidden);

            for (int r = 0; r < tokensPerRank.Length; r++)
            {
                float[] expected = new float[tokensPerRank[r] * hidden];
                new InProcessExpertExchange(new CpuBackend(1), all, experts).DispatchCombine(layer, xs[r], routings[r], expected);
                Assert.True(expected.Select(BitConverter.SingleToInt32Bits).SequenceEqual(ys[r].Select(BitConverter.SingleToInt32Bits)),
                    $"{map}: rank {r}, layer {layer}: the all-to-all's output differs from the in-process exchange's");
                Assert.All(ys[r], v => Assert.True(float.IsFinite(v)));
            }
        }
    }

    /// <summary>N ranks exchanging through their buffers as ncclSend/ncclRecv would; returns each rank's combined output.</summary>
    private static float[][] SimulatedAllToAll(PlacementMap map, ExpertShard[] shards, int layer, float[][] xs, ExpertRouting[] routings, int hidden)
    {
        int ranks = map.MemberCount, k = routings[0].K;

        // Dispatch: each rank routes (the holder per (token, slot)), lays out and packs its rows.
        var send = new DispatchSendLayout[ranks];
        var sendX = new float[ranks][];
        for (int r = 0; r < ranks; r++)
        {
            DispatchPlan plan = new ExpertRouter(map, map.Member(r)).Route(layer, routings[r]);
            send[r] = DispatchSendLayout.Build(routings[r], plan);
            sendX[r] = new float[send[r].SendRows * hidden];
            send[r].Pack(xs[r], hidden, sendX[r]);
        }

        // The counts first; each rank places its receives from them alone; then rows and slot experts are copied.
        var receive = new DispatchReceiveLayout[ranks];
        var receivedX = new float[ranks][];
        for (int dst = 0; dst < ranks; dst++)
        {
            int[] counts = [.. send.Select(s => s.SendTokenCounts[dst])];
            IReadOnlyList<AllToAllSegment> places = DispatchReceiveLayout.ReceiveSegments(counts);
            int rows = counts.Sum();
            receivedX[dst] = Poisoned(rows * hidden);
            int[] receivedSlots = new int[rows * k];
            Array.Fill(receivedSlots, int.MinValue);
            foreach (AllToAllSegment place in places)
            {
                AllToAllSegment from = send[place.Peer].DispatchSends().Single(s => s.Peer == dst);
                Assert.Equal(from.Rows, place.Rows);
                sendX[place.Peer].AsSpan(from.FirstRow * hidden, from.Rows * hidden).CopyTo(receivedX[dst].AsSpan(place.FirstRow * hidden));
                send[place.Peer].SlotExperts.AsSpan(from.FirstRow * k, from.Rows * k).CopyTo(receivedSlots.AsSpan(place.FirstRow * k));
            }

            receive[dst] = DispatchReceiveLayout.Build(counts, k, receivedSlots);
            Assert.Equal(places, receive[dst].DispatchReceives());
        }

        Assert.True(receive.Count(l => l.ExpertRows > 0) >= 2, "the step's experts ran on fewer than two ranks");

        // Each rank runs its own experts (its shard holds only what the map gives it) on all the rows it received.
        var combineSend = new float[ranks][];
        for (int dst = 0; dst < ranks; dst++)
        {
            DispatchReceiveLayout layout = receive[dst];
            float[] input = Poisoned(layout.ExpertRows * hidden), output = Poisoned(layout.ExpertRows * hidden);
            layout.Gather(receivedX[dst], hidden, input);
            ExpertShard shard = shards[dst];
            GroupedExperts.Run(new CpuBackend(1), 1, e => shard.Get(layer, e), layout.Groups, layout.Groups.Length,
                (first, n) => input.AsSpan(first * hidden, n * hidden), (first, n) => output.AsSpan(first * hidden, n * hidden));
            combineSend[dst] = Poisoned(layout.ExpertRows * hidden);
            layout.PackCombine(output, hidden, combineSend[dst]);
        }

        // The reverse all-to-all, then each rank puts the rows at their (token, slot) places and combines in slot order.
        var ys = new float[ranks][];
        for (int src = 0; src < ranks; src++)
        {
            float[] combined = Poisoned(send[src].CombineRows * hidden);
            foreach (AllToAllSegment place in send[src].CombineReceives())
            {
                AllToAllSegment from = receive[place.Peer].CombineSends().Single(s => s.Peer == src);
                Assert.Equal(from.Rows, place.Rows);
                combineSend[place.Peer].AsSpan(from.FirstRow * hidden, from.Rows * hidden).CopyTo(combined.AsSpan(place.FirstRow * hidden));
            }

            float[] expertOut = Poisoned(routings[src].Tokens * k * hidden);
            send[src].UnpackCombine(combined, hidden, expertOut);
            ys[src] = new float[routings[src].Tokens * hidden];
            SlotOrderCombine.Run(routings[src], hidden, expertOut, ys[src]);
        }

        return ys;
    }

    private static PlacementMap MapFor(string name, ModelConfig config)
    {
        if (name.StartsWith("group-aligned", StringComparison.Ordinal))
        {
            return PlacementPlanner.For(config).Plan(DistributedEqualsSingleProcessTests.Members(3));
        }

        if (name.StartsWith("every expert", StringComparison.Ordinal))
        {
            ClusterMember[] members = DistributedEqualsSingleProcessTests.Members(3);
            ExpertLayout layout = ExpertLayout.From(config);
            var holders = layout.MoeLayers.Select(l => (IReadOnlyList<IReadOnlyList<SiloId>>)Enumerable.Range(0, layout.Experts)
                .Select(e => (IReadOnlyList<SiloId>)[members[1 + ((e + l) % 2)].Silo]).ToList()).ToList();
            return PlacementMap.Create(1, 1, members, layout, holders);
        }

        ClusterMember[] four = [.. Enumerable.Range(0, 4).Select(i => new ClusterMember($"S127.0.0.1:{20000 + i}:1", $"node-{i / 2}"))];
        return PlacementPlanner.For(config, replicas: 2).Plan(four);
    }

    private static float[] RandomRows(Random rng, int count) => [.. Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 4) - 2))];

    private static ExpertRouting RandomRouting(Random rng, int tokens, int k, int experts)
    {
        int[] ids = [.. Enumerable.Range(0, tokens).SelectMany(_ => Enumerable.Range(0, experts).OrderBy(_ => rng.Next()).Take(k))];
        float[] weights = [.. ids.Select(_ => (float)(rng.NextDouble() + 0.05))];
        return new ExpertRouting(tokens, k, ids, weights);
    }

    /// <summary>A buffer of NaNs: a row the exchange forgets to write never passes as a value.</summary>
    private static float[] Poisoned(int count)
    {
        float[] values = new float[count];
        Array.Fill(values, float.NaN);
        return values;
    }
}
