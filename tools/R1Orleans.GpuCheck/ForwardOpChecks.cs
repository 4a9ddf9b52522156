using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;
using R1Orleans.Model;

namespace R1Orleans.GpuCheck;

/// <summary>
/// The device forward's own kernels (kernels/forward.cu) one by one against the CPU code they mirror, on random
/// inputs, outputs poisoned with NaN first: latent_append (RMSNorm + YaRN into shuffled slots), head_proj and
/// head_proj4 (the absorbed projections), latent_attention_paged and latent_attention_heads (CpuBackend.LatentAttention
/// over the same pages),
/// moe_ref_* (FeedForward per routed slot, float32 and FP8 weights, combined in slot order), gemv_f32_rows
/// (CpuBackend.Linear) and the two-stage argmax (ties to the lower index, NaN never wins).
/// </summary>
public static class ForwardOpChecks
{
    public const double Float32Tolerance = 1e-5;

    public static IEnumerable<CheckResult> Run(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng)
    {
        var cpu = new CpuBackend();
        ModelConfig v3 = ReducedModelBench.Config();
        yield return LatentAppend(context, kernels, stream, cpu, rng, v3, rows: 37, blocks: 20, blockSize: 16);
        yield return CopyRope(context, kernels, stream, rng, rows: 1, heads: 128, nope: 128, rope: 64, kvRank: 512);
        yield return CopyRope(context, kernels, stream, rng, rows: 7, heads: 3, nope: 16, rope: 8, kvRank: 32);
        foreach ((int heads, int outDim, int inDim, int xHead, int n) in new[] { (128, 512, 128, 192, 1), (128, 512, 128, 192, 64), (128, 128, 512, 512, 7), (4, 32, 16, 24, 9) })
        {
            yield return HeadProjection(context, kernels, stream, rng, heads, outDim, inDim, xHead, n);
        }

        foreach (bool shareHeads in new[] { false, true })
        {
            yield return PagedAttention(context, kernels, stream, cpu, rng, heads: 16, latent: 512, rope: 64, blockSize: 16, lengths: [1, 37, 130], queriesPer: [1, 5, 3], shareHeads);
            yield return PagedAttention(context, kernels, stream, cpu, rng, heads: 4, latent: 32, rope: 16, blockSize: 16, lengths: [150], queriesPer: [150], shareHeads);
        }

        // V3's 128 heads (eight CTAs of 16 per row) over contexts that end mid-chunk and mid-block.
        yield return PagedAttention(context, kernels, stream, cpu, rng, heads: 128, latent: 512, rope: 64, blockSize: 16, lengths: [57, 3, 200], queriesPer: [1, 1, 2], shareHeads: true);
        foreach (bool fp8 in new[] { false, true })
        {
            yield return MoeReference(context, kernels, stream, cpu, rng, experts: 16, hidden: 256, inter: 160, k: 4, tokens: 9, fp8);
        }

        foreach ((int rows, int cols, int n) in new[] { (256, 7168, 1), (256, 7168, 8), (1000, 7168, 3) })
        {
            yield return GemvRows(context, kernels, stream, cpu, rng, rows, cols, n);
        }

        yield return Argmax(context, kernels, stream, rng, rows: 5, cols: 129280);
    }

    private static CheckResult LatentAppend(CudaContext context, KernelLibrary kernels, CudaStream stream, CpuBackend cpu, Random rng, ModelConfig c, int rows, int blocks, int blockSize)
    {
        int kv = c.KvLoraRank, rope = c.QkRopeHeadDim, width = kv + rope;
        float[] x = Rng.Uniform(rng, rows * width, -2f, 2f);
        float[] w = Rng.Uniform(rng, kv, 0.5f, 1.5f);
        int[] positions = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(160_000))];
        int[] slots = [.. Enumerable.Range(0, blocks * blockSize).OrderBy(_ => rng.Next()).Take(rows)];
        var yarn = new YarnRope(c);
        float eps = (float)c.RmsNormEps;
        float[] expected = new float[blocks * blockSize * width];
        Array.Fill(expected, float.NaN);
        Span<float> cos = stackalloc float[rope / 2];
        Span<float> sin = stackalloc float[rope / 2];
        for (int t = 0; t < rows; t++)
        {
            Span<float> e = expected.AsSpan(slots[t] * width, width);
            cpu.RmsNorm(x.AsSpan(t * width, kv), 1, w, eps, e[..kv]);
            x.AsSpan((t * width) + kv, rope).CopyTo(e[kv..]);
            yarn.CosSin(positions[t], cos, sin);
            YarnRope.Rotate(e[kv..], cos, sin);
        }

        using DeviceBuffer dx = Upload(context, x);
        using DeviceBuffer dw = Upload(context, w);
        using DeviceBuffer dp = Upload(context, positions);
        using DeviceBuffer ds = Upload(context, slots);
        using DeviceBuffer df = context.Allocate(yarn.InverseFrequencies.Length * 8L);
        df.Upload(yarn.InverseFrequencies);
        using DeviceBuffer pool = context.Allocate(expected.Length * 4L);
        pool.Fill32(OpChecks.Poison);
        kernels.Kernel("forward", "latent_append").Launch(stream, rows, 256, 0, dx, dw, eps, dp, ds, df, BitConverter.DoubleToUInt64Bits(yarn.AttentionFactor), pool, kv, rope);
        stream.Synchronize();
        float[] got = pool.Download<float>(expected.Length);

        // Written slots against the CPU; every other slot must still hold the poison.
        bool untouched = Enumerable.Range(0, blocks * blockSize).Where(s => !slots.Contains(s)).All(s => got.AsSpan(s * width, width).ToArray().All(float.IsNaN));
        float[] a = [.. slots.SelectMany(s => got.AsSpan(s * width, width).ToArray())];
        float[] b = [.. slots.SelectMany(s => expected.AsSpan(s * width, width).ToArray())];
        Agreement agreement = Agreement.Of(a, b);
        return new CheckResult($"latent_append [{rows} rows into {blocks}x{blockSize} slots]{(untouched ? string.Empty : " WROTE OTHER SLOTS")}", untouched ? Float32Tolerance : -1, agreement);
    }

    private static CheckResult HeadProjection(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng, int heads, int outDim, int inDim, int xHead, int n)
    {
        float[] w = Rng.Uniform(rng, heads * outDim * inDim, -0.1f, 0.1f);
        long xRow = (long)heads * xHead;
        float[] x = Rng.Uniform(rng, (int)(n * xRow), -1f, 1f);
        float[] expected = new float[n * heads * outDim];
        for (int t = 0; t < n; t++)
        {
            for (int h = 0; h < heads; h++)
            {
                for (int r = 0; r < outDim; r++)
                {
                    double s = 0;
                    for (int c = 0; c < inDim; c++)
                    {
                        s += (double)w[(((h * outDim) + r) * inDim) + c] * x[(t * xRow) + (h * xHead) + c];
                    }

                    expected[(((t * heads) + h) * outDim) + r] = (float)s;
                }
            }
        }

        bool vector = inDim % 128 == 0 && inDim <= 512 && xHead % 4 == 0;
        using DeviceBuffer dw = Upload(context, w);
        using DeviceBuffer dx = Upload(context, x);
        using DeviceBuffer dy = context.Allocate(expected.Length * 4L);
        dy.Fill32(OpChecks.Poison);
        CudaKernel k = kernels.Kernel("forward", vector ? "head_proj4" : "head_proj");
        k.Launch(stream, new Dim3((uint)heads, (uint)((outDim + (vector ? 31 : 7)) / (vector ? 32 : 8))), 256, 0, dw, dx, xRow, xHead, 0, inDim, dy, (long)heads * outDim, outDim, 0, outDim, n);
        stream.Synchronize();
        return new CheckResult($"{k.Name} [{n} x {heads} heads, {inDim} -> {outDim}]", Float32Tolerance, Agreement.Of(dy.Download<float>(expected.Length), expected));
    }

    /// <summary>Sequences of the given lengths in shuffled blocks; each runs its last queriesPer rows (positions before are cached).</summary>
    private static CheckResult PagedAttention(CudaContext context, KernelLibrary kernels, CudaStream stream, CpuBackend cpu, Random rng, int heads, int latent, int rope, int blockSize, int[] lengths, int[] queriesPer, bool shareHeads)
    {
        int width = latent + rope;
        int[] need = [.. lengths.Select(l => (l + blockSize - 1) / blockSize)];
        int blocks = need.Sum() + 3, tableWidth = need.Max();
        int[] order = [.. Enumerable.Range(0, blocks).OrderBy(_ => rng.Next())];
        float[] pool = Rng.Uniform(rng, blocks * blockSize * width, -1f, 1f);
        var tables = new int[lengths.Length * tableWidth];
        int used = 0;
        for (int s = 0; s < lengths.Length; s++)
        {
            for (int b = 0; b < need[s]; b++)
            {
                tables[(s * tableWidth) + b] = order[used++];
            }
        }

        int rows = queriesPer.Sum();
        float[] q = Rng.Uniform(rng, rows * heads * width, -1f, 1f);
        var rowSeq = new int[rows];
        var rowPos = new int[rows];
        float[] expected = new float[rows * heads * latent];
        float scale = 1f / MathF.Sqrt(192);
        int r0 = 0;
        for (int s = 0; s < lengths.Length; s++)
        {
            int first = lengths[s] - queriesPer[s];
            for (int i = 0; i < queriesPer[s]; i++)
            {
                rowSeq[r0 + i] = s;
                rowPos[r0 + i] = first + i;
            }

            cpu.LatentAttention(new LatentAttentionProblem
            {
                Q = q.AsSpan(r0 * heads * width, queriesPer[s] * heads * width),
                Latent = pool,
                BlockTable = tables.AsSpan(s * tableWidth, need[s]),
                BlockSize = blockSize,
                Output = expected.AsSpan(r0 * heads * latent, queriesPer[s] * heads * latent),
                Queries = queriesPer[s],
                Keys = lengths[s],
                FirstQueryPosition = first,
                Heads = heads,
                LatentDim = latent,
                RopeDim = rope,
                Scale = scale,
            });
            r0 += queriesPer[s];
        }

        using DeviceBuffer dq = Upload(context, q);
        using DeviceBuffer dp = Upload(context, pool);
        using DeviceBuffer dt = Upload(context, tables);
        using DeviceBuffer ds = Upload(context, rowSeq);
        using DeviceBuffer dr = Upload(context, rowPos);
        using DeviceBuffer dout = context.Allocate(expected.Length * 4L);
        dout.Fill32(OpChecks.Poison);
        new PagedLatentAttention(kernels).Launch(stream, shareHeads, dq.Pointer, dp.Pointer, dt.Pointer, tableWidth, blockSize, ds.Pointer, dr.Pointer, dout.Pointer, rows, heads, latent, rope, scale);
        stream.Synchronize();
        return new CheckResult($"latent_attention_{(shareHeads ? "heads" : "paged")} [{rows} rows of {lengths.Length} seqs, {heads} heads, {latent}+{rope}]", Float32Tolerance, Agreement.Of(dout.Download<float>(expected.Length), expected));
    }

    private static CheckResult MoeReference(CudaContext context, KernelLibrary kernels, CudaStream stream, CpuBackend cpu, Random rng, int experts, int hidden, int inter, int k, int tokens, bool fp8)
    {
        // Each expert's gate, up and down as the CPU holds them (FP8: random codes, positive scales, 128x128 blocks).
        Matrix Random(int rows, int cols)
        {
            if (!fp8)
            {
                return new Matrix(rows, cols, Rng.Uniform(rng, rows * cols, -0.1f, 0.1f));
            }

            byte[] codes = new byte[rows * cols];
            rng.NextBytes(codes);
            for (int i = 0; i < codes.Length; i++)
            {
                codes[i] = (codes[i] & 0x7F) == 0x7F ? (byte)(codes[i] ^ 1) : codes[i];
            }

            return Matrix.Fp8(rows, cols, codes, Rng.Uniform(rng, ((rows + 127) / 128) * ((cols + 127) / 128), 1e-4f, 3e-4f), 128, 128);
        }

        var ffns = Enumerable.Range(0, experts).Select(_ => new FeedForward(Random(inter, hidden), Random(inter, hidden), Random(hidden, inter))).ToArray();
        float[] x = Rng.Uniform(rng, tokens * hidden, -1f, 1f);
        (int[] ids, float[] weights) = Rng.Routing(rng, tokens, k, experts);
        float[] expected = new float[tokens * hidden];
        var one = new float[hidden];
        for (int t = 0; t < tokens; t++)
        {
            Span<float> row = expected.AsSpan(t * hidden, hidden);
            for (int j = 0; j < k; j++)
            {
                ffns[ids[(t * k) + j]].Forward(cpu, x.AsSpan(t * hidden, hidden), 1, one);
                for (int i = 0; i < hidden; i++)
                {
                    row[i] += weights[(t * k) + j] * one[i];
                }
            }
        }

        // Stacks: gate, up, down, each codes (or floats) then scales.
        DeviceBuffer Stack(Func<FeedForward, Matrix> part, out ulong scales, out long stride, out long scaleStride)
        {
            Matrix m0 = part(ffns[0]);
            stride = (long)m0.Rows * m0.Cols;
            scaleStride = fp8 ? m0.Scales.Length : 0;
            long codeBytes = fp8 ? ((experts * stride) + 255) & ~255L : experts * stride * 4;
            DeviceBuffer b = context.Allocate(codeBytes + (experts * scaleStride * 4) + 4);
            for (int e = 0; e < experts; e++)
            {
                if (fp8)
                {
                    b.Upload<byte>(part(ffns[e]).Codes, e * stride);
                    b.Upload<float>(part(ffns[e]).Scales, codeBytes + (e * scaleStride * 4));
                }
                else
                {
                    b.Upload<float>(part(ffns[e]).Data, e * stride * 4);
                }
            }

            scales = b.Pointer + (ulong)codeBytes;
            return b;
        }

        using DeviceBuffer g = Stack(f => f.Gate, out ulong gs, out long wStride, out long sStride);
        using DeviceBuffer u = Stack(f => f.Up, out ulong us, out _, out _);
        using DeviceBuffer dn = Stack(f => f.Down, out ulong ds, out long dStride, out long dsStride);
        using DeviceBuffer dx = Upload(context, x);
        using DeviceBuffer di = Upload(context, ids);
        using DeviceBuffer dwt = Upload(context, weights);
        using DeviceBuffer h = context.Allocate(tokens * k * inter * 4L);
        using DeviceBuffer o = context.Allocate(tokens * k * hidden * 4L);
        using DeviceBuffer y = context.Allocate(tokens * hidden * 4L);
        h.Fill32(OpChecks.Poison);
        o.Fill32(OpChecks.Poison);
        y.Fill32(OpChecks.Poison);
        int slots = tokens * k, f8 = fp8 ? 1 : 0;
        kernels.Kernel("forward", "moe_ref_gate_up").Launch(stream, new Dim3((uint)((inter + 7) / 8), (uint)slots), 256, 0, dx, di, k, g, gs, u, us, wStride, sStride, f8, 128, 128, h, hidden, inter);
        kernels.Kernel("forward", "moe_ref_down").Launch(stream, new Dim3((uint)((hidden + 7) / 8), (uint)slots), 256, 0, h, di, dn, ds, dStride, dsStride, f8, 128, 128, o, hidden, inter);
        kernels.Kernel("forward", "moe_ref_combine").Launch(stream, tokens, 256, 0, o, dwt, k, y, hidden);
        stream.Synchronize();
        return new CheckResult($"moe_ref {(fp8 ? "FP8" : "float32")} [{tokens} tokens, {experts} experts top-{k}, {hidden}/{inter}]", Float32Tolerance, Agreement.Of(y.Download<float>(expected.Length), expected));
    }

    /// <summary>copy_rope with its forward grid: every rotated q_rope value lands beside its head's absorbed q, exactly; the rest keeps its poison.</summary>
    private static CheckResult CopyRope(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng, int rows, int heads, int nope, int rope, int kvRank)
    {
        float[] q = Rng.Uniform(rng, rows * heads * (nope + rope), -1f, 1f);
        int width = kvRank + rope;
        float[] expected = new float[rows * heads * width];
        Array.Fill(expected, float.NaN);
        for (int t = 0; t < rows; t++)
        {
            for (int h = 0; h < heads; h++)
            {
                Array.Copy(q, (((t * heads) + h) * (nope + rope)) + nope, expected, (((t * heads) + h) * width) + kvRank, rope);
            }
        }

        using DeviceBuffer dq = Upload(context, q);
        using DeviceBuffer da = context.Allocate(expected.Length * 4L);
        da.Fill32(OpChecks.Poison);
        kernels.Kernel("forward", "copy_rope").Launch(stream, ForwardKernels.CopyRopeGrid(rows, heads, rope), 128, 0, dq, da, heads, nope, rope, kvRank);
        stream.Synchronize();
        float[] got = da.Download<float>(expected.Length);
        bool exact = got.Zip(expected).All(p => float.IsNaN(p.Second) ? float.IsNaN(p.First) : p.First == p.Second);
        int[] owned = [.. Enumerable.Range(0, expected.Length).Where(i => !float.IsNaN(expected[i]))];
        Agreement a = Agreement.Of([.. owned.Select(i => got[i])], [.. owned.Select(i => expected[i])]);
        return new CheckResult($"copy_rope [{rows}, {heads} x {rope}] into [{rows}, {heads} x {width}]{(exact ? string.Empty : ", NOT AN EXACT COPY")}", 0, exact ? a : a with { NonFinite = a.NonFinite + 1 });
    }

    private static CheckResult GemvRows(CudaContext context, KernelLibrary kernels, CudaStream stream, CpuBackend cpu, Random rng, int rows, int cols, int n)
    {
        float[] w = Rng.Uniform(rng, rows * cols, -0.05f, 0.05f);
        float[] x = Rng.Uniform(rng, n * cols, -1f, 1f);
        float[] expected = new float[n * rows];
        cpu.Linear(x, n, new Matrix(rows, cols, w), expected);
        using DeviceBuffer dw = Upload(context, w);
        using DeviceBuffer dx = Upload(context, x);
        using DeviceBuffer dy = context.Allocate(expected.Length * 4L);
        dy.Fill32(OpChecks.Poison);
        kernels.Kernel("forward", "gemv_f32_rows").Launch(stream, rows, 256, 0, dx, dw, dy, n, rows, cols);
        stream.Synchronize();
        return new CheckResult($"gemv_f32_rows [{n} x {cols}] -> {rows}", Float32Tolerance, Agreement.Of(dy.Download<float>(expected.Length), expected));
    }

    /// <summary>Rows with their maximum written twice (the lower index must win) and NaNs sprinkled in (never chosen).</summary>
    private static CheckResult Argmax(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng, int rows, int cols)
    {
        float[] x = Rng.Uniform(rng, rows * cols, -10f, 10f);
        var expected = new float[rows];
        for (int t = 0; t < rows; t++)
        {
            int a = rng.Next(cols), b = rng.Next(cols);
            x[(t * cols) + a] = 50f;
            x[(t * cols) + b] = 50f;
            x[(t * cols) + rng.Next(cols)] = float.NaN;
            int best = 0;
            for (int i = 0; i < cols; i++)
            {
                float v = x[(t * cols) + i];
                best = v > x[(t * cols) + best] || float.IsNaN(x[(t * cols) + best]) && !float.IsNaN(v) ? i : best;
            }

            expected[t] = best;
        }

        const int Parts = 64;
        using DeviceBuffer dx = Upload(context, x);
        using DeviceBuffer pv = context.Allocate(rows * Parts * 4L);
        using DeviceBuffer pi = context.Allocate(rows * Parts * 4L);
        using DeviceBuffer ids = context.Allocate(rows * 4L);
        ids.Fill32(0xFFFFFFFFu);
        kernels.Kernel("forward", "argmax_partial").Launch(stream, new Dim3(Parts, (uint)rows), 256, 0, dx, cols, pv, pi);
        kernels.Kernel("forward", "argmax_final").Launch(stream, rows, 32, 0, pv, pi, Parts, ids);
        stream.Synchronize();
        float[] got = [.. ids.Download<int>(rows).Select(i => (float)i)];
        return new CheckResult($"argmax_partial/final [{rows} x {cols}], ties and NaN", 0, Agreement.Of(got, expected));
    }

    private static DeviceBuffer Upload<T>(CudaContext context, T[] values)
        where T : unmanaged
    {
        DeviceBuffer b = context.Allocate(Math.Max(4, values.Length * (long)System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));
        b.Upload<T>(values);
        return b;
    }
}
