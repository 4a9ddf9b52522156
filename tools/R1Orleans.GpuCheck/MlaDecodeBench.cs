using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>One timed split count of the MLA decode benchmark.</summary>
public sealed record MlaTiming(int Splits, double Ms, double Tflops);

/// <summary>
/// MLA absorbed decode at issue 19's size: FLOPs, the best time and split count, per-launch times, the mma.sync BF16
/// ceiling measured in the same run, and the KV cache bytes over the read bandwidth (the memory floor).
/// </summary>
public sealed record MlaBenchResult(
    int Batch, int Heads, int Context, double Gflop, MlaTiming Chosen, MlaTiming Best, double DecodeMs, double CombineMs,
    double KvGB, double ReadGBps, double KvFloorMs, double MmaPeakTflops, double PctOfMmaPeak, double GraphMs,
    IReadOnlyList<MlaTiming> Sweep, Agreement SpotCheck);

/// <summary>
/// Times MLA absorbed decode (64 sequences × 4,096 context, 128 heads, latent 512 + rope 64, bf16, pages in shuffled
/// order) with device events, median of repeats after a warm-up of at least 50 ms. FLOPs: 2·batch·heads·ctx·(576+512).
/// </summary>
public static class MlaDecodeBench
{
    public static MlaBenchResult Run(CudaContext context, KernelLibrary kernels, CudaStream stream, int reps, double readGBps,
        int batch = 64, int heads = 128, int contextLength = 4096, MlaDecodeKernel kernel = MlaDecodeKernel.Mma)
    {
        int pagesPer = contextLength / MlaDecode.PageSize;
        int cachePages = batch * pagesPer;
        float scale = 1f / MathF.Sqrt(192f);
        using var mla = new MlaDecode(context, kernels, batch, heads, pagesPer, cachePages, maxSplits: 16, kernel: kernel);
        CudaKernel fill = kernels.Kernel("mla_decode", "mla_fill_bf16");
        fill.Launch(stream, context.MultiprocessorCount * 16, 256, 0, mla.Q, (ulong)(mla.Q.Bytes / 2), 11u, -1f, 1f);
        fill.Launch(stream, context.MultiprocessorCount * 16, 256, 0, mla.Cache, (ulong)(mla.Cache.Bytes / 2), 12u, -1f, 1f);
        var rng = new Random(4096);
        int[] pages = Enumerable.Range(0, cachePages).ToArray();
        rng.Shuffle(pages);
        int[] seqLens = Enumerable.Repeat(contextLength, batch).ToArray();
        MlaDecode.ValidateBatch(pages, seqLens, batch, pagesPer, cachePages);
        mla.BlockTable.Upload<int>(pages);
        mla.SeqLens.Upload<int>(seqLens);
        stream.Synchronize();

        double gflop = MlaDecode.Flops(batch, heads, contextLength) / 1e9;
        double Tflops(double ms) => gflop / ms; // GFLOP / ms = TFLOP/s
        using CudaEvent start = context.CreateEvent();
        using CudaEvent end = context.CreateEvent();
        int chosenSplits = MlaDecode.ChooseSplits(batch, heads, contextLength, context.MultiprocessorCount, mla.MaxSplits);
        var sweep = new List<MlaTiming>();
        foreach (int s in new[] { chosenSplits, 1, 2, 3, 4, 8 }.Distinct())
        {
            double ms = MoeBench.Median(reps, () => MoeBench.Time(stream, start, end, () => mla.Forward(stream, batch, scale, contextLength, s)), warm: 3);
            sweep.Add(new MlaTiming(s, ms, Tflops(ms)));
            Console.WriteLine($"  {(kernel == MlaDecodeKernel.Mma ? "mla_decode" : "mla_decode_wgmma")} {batch}x{contextLength} H={heads} splits={s}: {ms:F4} ms, {Tflops(ms):F1} TFLOP/s");
        }

        MlaTiming best = sweep.MinBy(t => t.Ms)!;
        CudaEvent[] marks = [context.CreateEvent(), context.CreateEvent(), context.CreateEvent()];
        var decode = new List<double>();
        var combine = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            mla.Forward(stream, batch, scale, contextLength, best.Splits, marks);
            marks[2].Synchronize();
            decode.Add(marks[1].ElapsedSince(marks[0]));
            combine.Add(marks[2].ElapsedSince(marks[1]));
        }

        foreach (CudaEvent m in marks)
        {
            m.Dispose();
        }

        double graphMs;
        using (CudaGraph graph = CudaGraph.Capture(stream, () => mla.Forward(stream, batch, scale, contextLength, best.Splits)))
        {
            graphMs = MoeBench.Median(reps, () => MoeBench.Time(stream, start, end, () => graph.Launch(stream)), warm: 3);
        }

        // Spot check of the benchmark's own output (the last launch) against float64 for 2 sequences x 3 heads.
        stream.Synchronize();
        Agreement spot = SpotCheck(mla, batch, heads, pagesPer, seqLens, pages, scale);

        // The mma.sync m16n8k16 bf16 ceiling: 8 warps x 8 independent chains per CTA, 2 CTAs per SM (~2 ms).
        CudaKernel peak = kernels.Kernel("mla_decode", "mma_bf16_peak");
        using DeviceBuffer sink = context.Allocate(16);
        const int Iters = 16384;
        int ctas = context.MultiprocessorCount * 2;
        double peakMs = MoeBench.Median(reps, () => MoeBench.Time(stream, start, end, () => peak.Launch(stream, ctas, 256, 0, Iters, sink)), warm: 3);
        double peakTflops = 2.0 * 16 * 8 * 16 * 8 * Iters * 8 * ctas / (peakMs / 1e3) / 1e12;

        double kvGB = (double)batch * contextLength * MlaDecode.HeadDim * 2 / 1e9;
        return new MlaBenchResult(batch, heads, contextLength, gflop, sweep[0], best, MoeBench.Median(decode), MoeBench.Median(combine), kvGB, readGBps,
            kvGB / readGBps * 1e3, peakTflops, 100 * best.Tflops / peakTflops, graphMs, sweep, spot);
    }

    private static Agreement SpotCheck(MlaDecode mla, int batch, int heads, int pagesPer, int[] seqLens, int[] table, float scale)
    {
        int[] seqs = [0, batch - 1];
        int[] hs = [0, 63, heads - 1];
        float[] outAll = mla.Output.Download<float>(batch * heads * MlaDecode.LatentDim);
        ushort[] q = mla.Q.Download<ushort>(batch * heads * MlaDecode.HeadDim);
        var actual = new List<float>();
        var expected = new List<float>();
        foreach (int b in seqs)
        {
            // The sequence's pages, copied into a small cache of its own with an identity table.
            var cache = new ushort[pagesPer * MlaDecode.PageSize * MlaDecode.HeadDim];
            int pageElems = MlaDecode.PageSize * MlaDecode.HeadDim;
            for (int p = 0; p < pagesPer; p++)
            {
                mla.Cache.Download<ushort>(cache.AsSpan(p * pageElems, pageElems), (long)table[(b * pagesPer) + p] * pageElems * 2);
            }

            ushort[] qb = q.AsSpan(b * heads * MlaDecode.HeadDim, heads * MlaDecode.HeadDim).ToArray();
            float[] refOut = MlaDecodeReference.Compute(qb, cache, Enumerable.Range(0, pagesPer).ToArray(), [seqLens[b]], 1, heads, pagesPer, scale, hs);
            foreach (int h in hs)
            {
                actual.AddRange(outAll.AsSpan(((b * heads) + h) * MlaDecode.LatentDim, MlaDecode.LatentDim).ToArray());
                expected.AddRange(refOut.AsSpan(h * MlaDecode.LatentDim, MlaDecode.LatentDim).ToArray());
            }
        }

        return Agreement.Of(actual.ToArray(), expected.ToArray());
    }
}
