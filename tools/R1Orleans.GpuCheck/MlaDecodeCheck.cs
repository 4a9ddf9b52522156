using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>
/// MLA absorbed decode (kernels/mla_decode.cu through <see cref="MlaDecode"/>) against the float64
/// <see cref="MlaDecodeReference"/> on random bf16 inputs in [-1, 1]: pages in shuffled order, the cache slots past each
/// sequence's end and every unused block-table entry's page filled with NaN (read by mistake, they poison the output),
/// and the outputs and split partials poisoned with NaN before the run.
/// Tolerance: relative L2 error ≤ 1e-2. Inputs are exact in both; the GPU rounds the softmax weights P to bf16 for the
/// P·V mma (relative rounding error up to 2^-8, rms about 2^-8/√3 ≈ 2.3e-3, independent per weight, so the output's
/// relative error is of that order) and sums in float32 in another order (≈1e-6). A dropped or repeated page, a wrong
/// mask or scale moves the output by ≥ 1/√(tokens) relative (≥ 1.5e-2 at 4,096 tokens), above the tolerance.
/// </summary>
public static class MlaDecodeCheck
{
    public const double Tolerance = 1e-2;

    /// <summary>bf16 NaN, the poison of unused cache slots and pages.</summary>
    public const ushort NaNBf16 = 0x7FC0;

    public static IEnumerable<CheckResult> Run(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng, MlaDecodeKernel kernel = MlaDecodeKernel.Mma)
    {
        string tag = kernel == MlaDecodeKernel.Mma ? "mla_decode" : "mla_decode_wgmma";
        float v3Scale = 1f / MathF.Sqrt(192f); // DeepSeek-V3: 1/sqrt(qk_nope_head_dim + qk_rope_head_dim), before YaRN's mscale
        foreach ((int heads, int[] lens, int splits, float scale) in new (int, int[], int, float)[]
        {
            (64, [64, 200], 1, v3Scale), (128, [1, 77, 300], 3, 0.25f), (128, [1000, 513], 7, v3Scale),
            (128, [2048, 129, 65, 64], 0, v3Scale), (64, [4096], 1, v3Scale), (128, [4096, 4000], 2, 0.5f),
        })
        {
            yield return Guarded($"{tag} H={heads} len=[{string.Join(",", lens)}]", () => Case(context, kernels, stream, rng, heads, lens, splits, scale, kernel: kernel));
        }

        // The device forward's cache: 16-token blocks (a 64-token tile gathered from four), tables as wide as the pool.
        foreach ((int heads, int[] lens, int splits) in new (int, int[], int)[] { (128, [1, 57, 300], 0), (128, [17, 4096], 5), (128, [64, 15], 1) })
        {
            yield return Guarded($"{tag} H={heads} len=[{string.Join(",", lens)}] blocks of 16", () => Case(context, kernels, stream, rng, heads, lens, splits, v3Scale, blockSize: 16, kernel: kernel));
        }
    }

    /// <summary>A CUDA error (a launch refused, a fault) becomes a failed check with its message, so the run goes on where the context allows.</summary>
    public static CheckResult Guarded(string name, Func<CheckResult> check)
    {
        try
        {
            return check();
        }
        catch (CudaException e)
        {
            Console.WriteLine($"  {name}: {e.Message}");
            return new CheckResult(name + " (CUDA error)", Tolerance, new Agreement(double.NaN, double.NaN, 1, 1));
        }
    }

    /// <summary>
    /// Sequences of the given lengths over shuffled pages of <paramref name="blockSize"/> tokens (64: FlashMLA's layout;
    /// 16: the device forward's), unused rows and pages NaN; against <see cref="MlaDecodeReference"/> in float64.
    /// </summary>
    public static CheckResult Case(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng, int heads, int[] seqLens, int splits, float scale, int blockSize = MlaDecode.PageSize,
        MlaDecodeKernel kernel = MlaDecodeKernel.Mma)
    {
        const int D = MlaDecode.HeadDim;
        int page = blockSize;
        int batch = seqLens.Length;
        int maxLen = seqLens.Max();
        int maxPages = ((maxLen + page - 1) / page) + 1; // one spare entry per sequence, pointing at the NaN page
        int used = seqLens.Sum(n => (n + page - 1) / page);
        int cachePages = used + 3;                     // + the NaN page and two pages no one uses
        int ownPages = ((cachePages * page) + MlaDecode.PageSize - 1) / MlaDecode.PageSize;  // MlaDecode's cache holds them as 64-token pages
        using var mla = new MlaDecode(context, kernels, batch, heads, maxPages, ownPages, maxSplits: 16, kernel: kernel);

        ushort[] q = RandomBf16(rng, batch * heads * D);
        ushort[] cache = RandomBf16(rng, cachePages * page * D);
        int nanPage = cachePages - 1;
        cache.AsSpan(nanPage * page * D, page * D).Fill(NaNBf16);
        int[] order = Enumerable.Range(0, cachePages - 1).ToArray();
        rng.Shuffle(order);
        var table = new int[batch * maxPages];
        Array.Fill(table, nanPage);
        int next = 0;
        for (int b = 0; b < batch; b++)
        {
            int pages = (seqLens[b] + page - 1) / page;
            for (int p = 0; p < pages; p++)
            {
                table[(b * maxPages) + p] = order[next++];
            }

            int tail = seqLens[b] % page;
            if (tail != 0)
            {
                int last = table[(b * maxPages) + pages - 1];
                cache.AsSpan(((last * page) + tail) * D, (page - tail) * D).Fill(NaNBf16);
            }
        }

        MlaDecode.ValidateBatch(table, seqLens, batch, maxPages, cachePages, blockSize);
        mla.Q.Upload<ushort>(q);
        mla.Cache.Upload<ushort>(cache);
        mla.BlockTable.Upload<int>(table);
        mla.SeqLens.Upload<int>(seqLens);
        mla.Output.Fill32(OpChecks.Poison);
        mla.PoisonPartials(OpChecks.Poison);
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        int usedSplits = mla.Forward(stream, batch, scale, maxLen, new MlaDecodeInputs(mla.Q.Pointer, mla.Cache.Pointer, mla.BlockTable.Pointer, maxPages, blockSize, mla.SeqLens.Pointer, mla.Output.Pointer), splits);
        stream.Synchronize();
        double gpuMs = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        float[] actual = mla.Output.Download<float>(batch * heads * MlaDecode.LatentDim);
        float[] expected = MlaDecodeReference.Compute(q, cache, table, seqLens, batch, heads, maxPages, scale, blockSize: blockSize);
        var agreement = Agreement.Of(actual, expected);
        string name = $"{(kernel == MlaDecodeKernel.Mma ? "mla_decode" : "mla_decode_wgmma")} H={heads} len=[{string.Join(",", seqLens)}] splits={usedSplits}{(splits == 0 ? " (chosen)" : "")} scale={scale:G3}{(blockSize == MlaDecode.PageSize ? string.Empty : $" blocks of {blockSize}")}";
        Console.WriteLine(Detail(actual, expected, batch, heads, gpuMs));
        return new CheckResult(name, Tolerance, agreement);
    }

    /// <summary>One line for debugging from a log: per-sequence relative L2, where the largest difference is, the first non-finite output.</summary>
    public static string Detail(float[] actual, float[] expected, int batch, int heads, double gpuMs)
    {
        const int Dv = MlaDecode.LatentDim;
        var perSeq = new List<string>();
        for (int b = 0; b < batch; b++)
        {
            var a = Agreement.Of(actual.AsSpan(b * heads * Dv, heads * Dv), expected.AsSpan(b * heads * Dv, heads * Dv));
            perSeq.Add($"{a.RelativeL2:E1}{(a.NonFinite > 0 ? $"({a.NonFinite} NaN)" : "")}");
        }

        int worst = -1, firstBad = -1;
        double worstD = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!float.IsFinite(actual[i]))
            {
                firstBad = firstBad < 0 ? i : firstBad;
                continue;
            }

            double d = Math.Abs((double)actual[i] - expected[i]);
            if (d > worstD)
            {
                worstD = d;
                worst = i;
            }
        }

        string At(int i) => $"(b {i / (heads * Dv)}, h {i / Dv % heads}, d {i % Dv})";
        string w = worst >= 0 ? $"max|d| at {At(worst)}: {actual[worst]:G5} vs {expected[worst]:G5}" : "no finite output";
        string f = firstBad >= 0 ? $"; first non-finite at {At(firstBad)}" : "";
        return $"  mla_decode detail: per-sequence relL2 [{string.Join(" ", perSeq)}]; {w}{f}; first launch + sync {gpuMs:F2} ms";
    }

    private static ushort[] RandomBf16(Random rng, int n)
    {
        var a = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = MlaDecodeReference.FloatToBf16((2f * rng.NextSingle()) - 1f);
        }

        return a;
    }
}
