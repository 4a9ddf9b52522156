using System.Diagnostics;
using System.Numerics.Tensors;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Nccl;
using R1Orleans.Model;
using R1Orleans.Transport.AllToAll;
using R1Orleans.Transport.Experts;

namespace R1Orleans.GpuCheck;

/// <summary>
/// r1-gpucheck --nccl: the expert exchange's all-to-all through NCCL between the GPUs of this host, one thread per rank
/// (one communicator per GPU, its id handed over in process). Per rank and token count: DeepEP's layout
/// (<see cref="DispatchSendLayout"/>), the counts, the rows with their slot experts, a per-row "expert" on the host, the
/// combine back, slot-order combine; the result must equal, bit for bit, the same step computed without any transport.
/// Then the dispatch's time and bandwidth against an all-to-all of large equal chunks measured in the same run, and, with
/// two or more ranks, a silent peer: rank 0's step must end in an <see cref="NcclTimeoutException"/> within its deadline.
/// </summary>
internal static class NcclCheck
{
    private const int Hidden = 7168, TopK = 8, Experts = 256;

    public static int Run(int requestedRanks, int reps)
    {
        int devices;
        try
        {
            NcclLibrary.Load();
            devices = CudaContext.DeviceCount();
        }
        catch (CudaUnavailableException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        int ranks = Math.Min(requestedRanks > 0 ? requestedRanks : devices, devices);
        if (ranks < 1)
        {
            Console.Error.WriteLine("no CUDA device");
            return 2;
        }

        Console.WriteLine($"NCCL {NcclLibrary.Version()} from {NcclLibrary.LoadedFrom}; {devices} device(s), {ranks} rank(s), one thread per rank");
        NcclUniqueId id = NcclUniqueId.Create();
        using var barrier = new Barrier(ranks);
        var lines = new List<string>[ranks];
        var failures = new int[ranks];
        var threads = new Thread[ranks];
        for (int r = 0; r < ranks; r++)
        {
            int rank = r;
            lines[rank] = [];
            threads[rank] = new Thread(() =>
            {
                try
                {
                    failures[rank] = RankMain(rank, ranks, id, barrier, reps, lines[rank]);
                }
                catch (Exception e)
                {
                    lines[rank].Add($"FAIL rank {rank}: {e}");
                    failures[rank]++;
                    barrier.RemoveParticipant();
                }
            }) { IsBackground = true, Name = $"nccl-rank-{rank}" };
            threads[rank].Start();
        }

        var clock = Stopwatch.StartNew();
        TimeSpan limit = TimeSpan.FromMinutes(5);
        bool joined = true;
        foreach (Thread t in threads)
        {
            TimeSpan left = limit - clock.Elapsed;
            joined &= t.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }

        for (int r = 0; r < ranks; r++)
        {
            lock (lines[r])
            {
                lines[r].ForEach(l => Console.WriteLine($"[rank {r}] {l}"));
            }
        }

        if (!joined)
        {
            Console.WriteLine("FAIL the NCCL check did not finish within 5 minutes (a wait without a deadline?)");
            return 1;
        }

        int failed = failures.Sum();
        Console.WriteLine($"NCCL check: {(failed == 0 ? "all passed" : $"{failed} failed")}");
        return failed == 0 ? 0 : 1;
    }

    private static int RankMain(int rank, int ranks, NcclUniqueId id, Barrier barrier, int reps, List<string> log)
    {
        using CudaContext context = CudaContext.Open(rank);
        var init = Stopwatch.StartNew();
        using NcclCommunicator communicator = NcclCommunicator.Initialize(id, ranks, rank, $"gpucheck-x{ranks}/rank{rank}", TimeSpan.FromMinutes(2));
        communicator.Deadline = TimeSpan.FromSeconds(30);
        log.Add($"{context.Name}: communicator {communicator.Name} ready in {init.Elapsed.TotalMilliseconds:F0} ms");
        using CudaStream stream = context.CreateStream();
        using CudaEvent start = context.CreateEvent(), done = context.CreateEvent();
        int failed = 0;

        foreach (int tokens in new[] { 1, 16, 64, 256 })
        {
            var rng = new Random((rank * 1000) + tokens);
            float[] x = [.. Enumerable.Range(0, tokens * Hidden).Select(_ => (float)((rng.NextDouble() * 4) - 2))];
            ExpertRouting routing = Routing(rng, tokens);
            int[] holders = [.. routing.TopkIds.Select(e => e * ranks / Experts)];
            var step = new Step(context, communicator, stream, done, ranks, x, routing, holders);
            float[] y = step.Run();
            bool same = y.Select(BitConverter.SingleToInt32Bits).SequenceEqual(Reference(x, routing).Select(BitConverter.SingleToInt32Bits));
            failed += same ? 0 : 1;

            // Time the dispatch's row movement alone (the counts and the layout are the host's; the rows are what scale).
            var ms = new List<double>();
            for (int i = 0; i < reps; i++)
            {
                start.Record(stream);
                step.Dispatch();
                ms.Add(done.ElapsedSince(start));
            }

            double median = ms.Order().ElementAt(ms.Count / 2);
            long offRank = step.OffRankDispatchBytes;
            log.Add($"{(same ? "PASS" : "FAIL")} {tokens,3} tokens: all-to-all dispatch + combine equals the step without transport bit for bit; " +
                $"dispatch {median:F4} ms median of {reps}, {offRank / 1e6:F2} MB to other ranks, {offRank / (median * 1e6):F1} GB/s");
            step.Dispose();
        }

        if (ranks > 1)
        {
            foreach (long chunk in new[] { 1L << 20, 16L << 20, 128L << 20 })
            {
                double gbps = EqualChunkAllToAll(context, communicator, stream, start, done, ranks, chunk, reps);
                log.Add($"equal-chunk all-to-all, {chunk >> 20} MiB per peer: {gbps:F1} GB/s sent to other ranks per rank (median of {reps})");
            }
        }

        barrier.SignalAndWait(TimeSpan.FromMinutes(2));
        if (ranks > 1)
        {
            failed += SilentPeer(context, communicator, stream, done, rank, barrier, log);
        }

        return failed;
    }

    /// <summary>Rank 0 exchanges with rank 1, which never takes part: rank 0's wait must end in a timeout, the communicator aborted.</summary>
    private static int SilentPeer(CudaContext context, NcclCommunicator communicator, CudaStream stream, CudaEvent done, int rank, Barrier barrier, List<string> log)
    {
        int failed = 0;
        if (rank == 0)
        {
            using DeviceBuffer send = context.Allocate(1 << 20), receive = context.Allocate(1 << 20);
            communicator.Deadline = TimeSpan.FromSeconds(3);
            var clock = Stopwatch.StartNew();
            // 2^18 floats to and from rank 1, nothing with the others.
            int[] offsets = [.. Enumerable.Range(0, communicator.Ranks + 1).Select(i => i >= 2 ? 1 << 18 : 0)];
            try
            {
                NcclAllToAllV.Run(communicator, stream, done, offsets, offsets, [new NcclRowPlane(send.Pointer, receive.Pointer, 1, NcclDataType.ncclFloat32)], "silent peer");
                log.Add("FAIL silent peer: the exchange with a rank that never took part completed");
                failed++;
            }
            catch (NcclTimeoutException e)
            {
                bool aborted = communicator.IsAborted;
                log.Add($"{(aborted ? "PASS" : "FAIL")} silent peer: {e.Message} (after {clock.Elapsed.TotalSeconds:F2} s)");
                failed += aborted ? 0 : 1;
            }
        }

        barrier.SignalAndWait(TimeSpan.FromMinutes(1));
        communicator.Abort();
        return failed;
    }

    private static double EqualChunkAllToAll(CudaContext context, NcclCommunicator communicator, CudaStream stream, CudaEvent start, CudaEvent done, int ranks, long chunk, int reps)
    {
        using DeviceBuffer send = context.Allocate(chunk * ranks), receive = context.Allocate(chunk * ranks);
        int[] offsets = [.. Enumerable.Range(0, ranks + 1).Select(r => (int)(r * chunk))];
        NcclRowPlane[] plane = [new(send.Pointer, receive.Pointer, 1, NcclDataType.ncclUint8)];
        var ms = new List<double>();
        for (int i = 0; i < reps + 1; i++)
        {
            start.Record(stream);
            NcclAllToAllV.Run(communicator, stream, done, offsets, offsets, plane, $"equal chunks of {chunk} bytes");
            if (i > 0)
            {
                ms.Add(done.ElapsedSince(start));
            }
        }

        double median = ms.Order().ElementAt(ms.Count / 2);
        return chunk * (ranks - 1) / (median * 1e6);
    }

    private static ExpertRouting Routing(Random rng, int tokens)
    {
        int[] ids = [.. Enumerable.Range(0, tokens).SelectMany(_ => Enumerable.Range(0, Experts).OrderBy(_ => rng.Next()).Take(TopK))];
        return new ExpertRouting(tokens, TopK, ids, [.. ids.Select(_ => (float)(rng.NextDouble() + 0.05))]);
    }

    /// <summary>The stand-in expert (a per-row function of the row and the expert: what the bits must survive is the transport).</summary>
    private static void Expert(int expert, ReadOnlySpan<float> row, Span<float> output) => TensorPrimitives.Multiply(row, 1f + (expert / 512f), output);

    private static float[] Reference(float[] x, ExpertRouting routing)
    {
        float[] expertOut = new float[routing.Tokens * TopK * Hidden];
        for (int t = 0; t < routing.Tokens; t++)
        {
            for (int k = 0; k < TopK; k++)
            {
                Expert(routing.TopkIds[(t * TopK) + k], x.AsSpan(t * Hidden, Hidden), expertOut.AsSpan(((t * TopK) + k) * Hidden, Hidden));
            }
        }

        float[] y = new float[routing.Tokens * Hidden];
        SlotOrderCombine.Run(routing, Hidden, expertOut, y);
        return y;
    }

    /// <summary>One MoE layer step of one rank through NCCL: counts, dispatch (rows + slot experts), host experts, combine.</summary>
    private sealed class Step(CudaContext context, NcclCommunicator communicator, CudaStream stream, CudaEvent done, int ranks, float[] x, ExpertRouting routing, int[] holders) : IDisposable
    {
        private readonly DispatchSendLayout _send = DispatchSendLayout.Build(ranks, routing.Tokens, TopK, routing.TopkIds, holders);
        private readonly List<DeviceBuffer> _buffers = [];
        private int[] _receiveOffsets = [];
        private NcclRowPlane[] _dispatchPlanes = [];

        public long OffRankDispatchBytes { get; private set; }

        public float[] Run()
        {
            // The counts: one int32 to and from every rank (DeepEP's notify_dispatch).
            DeviceBuffer countsOut = Allocate(ranks * 4), countsIn = Allocate(ranks * 4);
            Up(countsOut, _send.SendTokenCounts);
            int[] one = [.. Enumerable.Range(0, ranks + 1)];
            NcclAllToAllV.Run(communicator, stream, done, one, one, [new NcclRowPlane(countsOut.Pointer, countsIn.Pointer, 1, NcclDataType.ncclInt32)], "counts");
            int[] counts = Down<int>(countsIn, ranks);
            _receiveOffsets = Offsets(counts);
            int received = _receiveOffsets[^1];

            // The dispatch: rows and their slot experts, grouped by destination.
            float[] sendX = new float[_send.SendRows * Hidden];
            _send.Pack(x, Hidden, sendX);
            DeviceBuffer rowsOut = Allocate(sendX.Length * 4L), slotsOut = Allocate(_send.SlotExperts.Length * 4L);
            DeviceBuffer rowsIn = Allocate(received * Hidden * 4L), slotsIn = Allocate(received * TopK * 4L);
            Up(rowsOut, sendX);
            Up(slotsOut, _send.SlotExperts);
            rowsIn.Fill8(0xFF);
            _dispatchPlanes = [new(rowsOut.Pointer, rowsIn.Pointer, Hidden, NcclDataType.ncclFloat32), new(slotsOut.Pointer, slotsIn.Pointer, TopK, NcclDataType.ncclInt32)];
            OffRankDispatchBytes = (long)(_send.SendRows - _send.SendTokenCounts[communicator.Rank]) * ((Hidden * 4) + (TopK * 4));
            Dispatch();
            float[] receivedX = Down<float>(rowsIn, received * Hidden);
            int[] receivedSlots = Down<int>(slotsIn, received * TopK);

            // This rank's experts on every row it received, grouped by expert.
            DispatchReceiveLayout layout = DispatchReceiveLayout.Build(counts, TopK, receivedSlots);
            float[] input = new float[layout.ExpertRows * Hidden], output = new float[layout.ExpertRows * Hidden], back = new float[layout.ExpertRows * Hidden];
            layout.Gather(receivedX, Hidden, input);
            for (int i = 0; i < layout.ExpertRows; i++)
            {
                Expert(layout.RowExpert[i], input.AsSpan(i * Hidden, Hidden), output.AsSpan(i * Hidden, Hidden));
            }

            layout.PackCombine(output, Hidden, back);

            // The combine: per (token, slot) rows back to the ranks they came from.
            DeviceBuffer combineOut = Allocate(back.Length * 4L), combineIn = Allocate(_send.CombineRows * Hidden * 4L);
            Up(combineOut, back);
            combineIn.Fill8(0xFF);
            NcclAllToAllV.Run(communicator, stream, done, layout.SlotOffsets, _send.SlotOffsets, [new NcclRowPlane(combineOut.Pointer, combineIn.Pointer, Hidden, NcclDataType.ncclFloat32)], "combine");
            float[] combined = Down<float>(combineIn, _send.CombineRows * Hidden);
            float[] expertOut = new float[routing.Tokens * TopK * Hidden];
            Array.Fill(expertOut, float.NaN);
            _send.UnpackCombine(combined, Hidden, expertOut);
            float[] y = new float[routing.Tokens * Hidden];
            SlotOrderCombine.Run(routing, Hidden, expertOut, y);
            return y;
        }

        /// <summary>The dispatch's rows and slot experts again (for timing; the buffers of <see cref="Run"/>).</summary>
        public void Dispatch() => NcclAllToAllV.Run(communicator, stream, done, _send.TokenOffsets, _receiveOffsets, _dispatchPlanes, "dispatch");

        public void Dispose() => _buffers.ForEach(b => b.Dispose());

        private DeviceBuffer Allocate(long bytes)
        {
            DeviceBuffer b = context.Allocate(Math.Max(bytes, 256));
            _buffers.Add(b);
            return b;
        }

        private static void Up<T>(DeviceBuffer buffer, T[] values)
            where T : unmanaged
        {
            if (values.Length > 0)
            {
                buffer.Upload<T>(values);
            }
        }

        private static T[] Down<T>(DeviceBuffer buffer, int count)
            where T : unmanaged => count > 0 ? buffer.Download<T>(count) : [];

        private static int[] Offsets(int[] counts)
        {
            int[] offsets = new int[counts.Length + 1];
            for (int r = 0; r < counts.Length; r++)
            {
                offsets[r + 1] = offsets[r] + counts[r];
            }

            return offsets;
        }
    }
}
