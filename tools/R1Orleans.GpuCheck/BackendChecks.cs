using R1Orleans.Backend;
using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>
/// CudaBackend against CpuBackend, op by op through IComputeBackend, on fresh random inputs: host outputs and every
/// device scratch buffer filled with NaN before each call, so an unwritten element fails.
/// </summary>
public static class BackendChecks
{
    /// <summary>float32 sums in another order over up to ~7k terms: relative L2 error far under this.</summary>
    public const double Tolerance = 1e-5;

    public static IEnumerable<CheckResult> Run(CudaBackend gpu, Random rng)
    {
        var cpu = new CpuBackend();
        foreach ((int n, int rows, int cols) in new[] { (1, 1, 1), (1, 129, 7168), (3, 1000, 333), (8, 257, 1536), (9, 67, 64), (37, 515, 129), (130, 2048, 512) })
        {
            yield return Linear(gpu, cpu, rng, n, rows, cols);
        }

        // FP8 weights (codes + 128x128 block scales, dequantized on the device) against the CPU's FP8 Linear, which is
        // bit-identical to its float32 Linear on the dequantized weights. Odd widths take the kernel's by-byte path.
        foreach ((int n, int rows, int cols) in new[] { (1, 1, 1), (1, 129, 7168), (3, 1000, 333), (8, 257, 1536), (9, 67, 64), (37, 515, 129), (130, 2048, 512), (1, 2048, 7168) })
        {
            yield return LinearFp8(gpu, cpu, rng, n, rows, cols);
        }

        foreach ((int n, int d) in new[] { (1, 7168), (5, 1536), (17, 512) })
        {
            yield return RmsNorm(gpu, cpu, rng, n, d);
        }

        yield return SiluMul(gpu, cpu, rng, 100_003);
        foreach ((int queries, int keys, int heads, int nope, int rope, int vd) in new[] { (1, 1, 1, 16, 8, 16), (7, 7, 4, 64, 32, 64), (5, 300, 3, 128, 64, 128), (130, 130, 2, 32, 16, 48) })
        {
            yield return Attention(gpu, cpu, rng, queries, keys, heads, nope, rope, vd);
        }

        foreach ((int queries, int keys, int heads, int latent, int rope, int blockSize) in new[] { (1, 1, 1, 32, 16, 0), (1, 300, 16, 512, 64, 16), (4, 4100, 8, 512, 64, 64), (9, 40, 5, 96, 32, 0) })
        {
            yield return LatentAttention(gpu, cpu, rng, queries, keys, heads, latent, rope, blockSize);
        }
    }

    private static CheckResult Linear(CudaBackend gpu, CpuBackend cpu, Random rng, int n, int rows, int cols)
    {
        float[] x = Rng.Uniform(rng, n * cols, -1f, 1f);
        var w = new Matrix(rows, cols, Rng.Uniform(rng, rows * cols, -1f, 1f));
        float[] expected = new float[n * rows];
        cpu.Linear(x, n, w, expected);
        float[] actual = Poisoned(n * rows);
        gpu.PoisonScratch(OpChecks.Poison);
        gpu.Linear(x, n, w, actual);
        return new CheckResult($"backend linear [{n}, {cols}] x [{rows}, {cols}]ᵀ", Tolerance, Agreement.Of(actual, expected));
    }

    private static CheckResult LinearFp8(CudaBackend gpu, CpuBackend cpu, Random rng, int n, int rows, int cols)
    {
        float[] x = Rng.Uniform(rng, n * cols, -1f, 1f);
        Matrix w = RandomFp8(rng, rows, cols, 128, 128);
        float[] expected = new float[n * rows];
        cpu.Linear(x, n, w, expected);
        float[] actual = Poisoned(n * rows);
        gpu.PoisonScratch(OpChecks.Poison);
        long before = gpu.WeightBytes;
        gpu.Linear(x, n, w, actual);
        long uploaded = gpu.WeightBytes - before;
        string path = n <= CudaBackend.GemvMaxTokens ? (cols % 16 == 0 ? "gemv by 16 codes" : "gemv by code") : "tiled";
        return new CheckResult($"backend linear fp8 [{n}, {cols}] x [{rows}, {cols}]ᵀ ({path}; {uploaded} device bytes, float32 {4L * rows * cols})", Tolerance, Agreement.Of(actual, expected));
    }

    /// <summary>Finite e4m3 codes (every code but the NaNs 0x7F/0xFF) and block scales near DeepSeek's (max |w| ≈ 1).</summary>
    internal static Matrix RandomFp8(Random rng, int rows, int cols, int blockRows, int blockCols)
    {
        var codes = new byte[rows * cols];
        rng.NextBytes(codes);
        for (int i = 0; i < codes.Length; i++)
        {
            if ((codes[i] & 0x7F) == 0x7F)
            {
                codes[i] ^= 0x01;
            }
        }

        var scales = new float[((rows + blockRows - 1) / blockRows) * ((cols + blockCols - 1) / blockCols)];
        for (int i = 0; i < scales.Length; i++)
        {
            scales[i] = (float)((0.5 + rng.NextDouble()) / 448.0);
        }

        return Matrix.Fp8(rows, cols, codes, scales, blockRows, blockCols);
    }

    private static CheckResult RmsNorm(CudaBackend gpu, CpuBackend cpu, Random rng, int n, int d)
    {
        float[] x = Rng.Uniform(rng, n * d, -2f, 2f);
        float[] w = Rng.Uniform(rng, d, 0.5f, 1.5f);
        float[] expected = new float[n * d];
        cpu.RmsNorm(x, n, w, 1e-6f, expected);
        float[] actual = Poisoned(n * d);
        gpu.PoisonScratch(OpChecks.Poison);
        gpu.RmsNorm(x, n, w, 1e-6f, actual);
        return new CheckResult($"backend rmsnorm [{n}, {d}]", Tolerance, Agreement.Of(actual, expected));
    }

    private static CheckResult SiluMul(CudaBackend gpu, CpuBackend cpu, Random rng, int n)
    {
        float[] g = Rng.Uniform(rng, n, -8f, 8f);
        float[] u = Rng.Uniform(rng, n, -2f, 2f);
        float[] expected = new float[n];
        cpu.SiluMul(g, u, expected);
        float[] actual = Poisoned(n);
        gpu.PoisonScratch(OpChecks.Poison);
        gpu.SiluMul(g, u, actual);
        return new CheckResult($"backend silu_mul [{n}]", Tolerance, Agreement.Of(actual, expected));
    }

    private static CheckResult Attention(CudaBackend gpu, CpuBackend cpu, Random rng, int queries, int keys, int heads, int nope, int rope, int vd)
    {
        // The rope key sits at an offset inside wider rows, as MLA's kv_a output holds it.
        int krStride = rope + 40, krOffset = 29;
        float[] q = Rng.Uniform(rng, queries * heads * (nope + rope), -1f, 1f);
        float[] kv = Rng.Uniform(rng, keys * heads * (nope + vd), -1f, 1f);
        float[] kr = Rng.Uniform(rng, keys * krStride, -1f, 1f);
        float scale = 1f / MathF.Sqrt(nope + rope) * 3f; // sharper than uniform, so the softmax matters
        float[] expected = new float[queries * heads * vd];
        float[] actual = Poisoned(expected.Length);
        AttentionProblem Problem(Span<float> output) => new()
        {
            Q = q, KeyValue = kv, KeyRope = kr, KeyRopeStride = krStride, KeyRopeOffset = krOffset, Output = output,
            Queries = queries, Keys = keys, FirstQueryPosition = keys - queries, Heads = heads, NopeDim = nope, RopeDim = rope, VDim = vd, Scale = scale,
        };
        cpu.Attention(Problem(expected));
        gpu.PoisonScratch(OpChecks.Poison);
        gpu.Attention(Problem(actual));
        return new CheckResult($"backend attention q{queries} k{keys} h{heads} {nope}+{rope}/{vd}", Tolerance, Agreement.Of(actual, expected));
    }

    private static CheckResult LatentAttention(CudaBackend gpu, CpuBackend cpu, Random rng, int queries, int keys, int heads, int latent, int rope, int blockSize)
    {
        int width = latent + rope;
        float[] q = Rng.Uniform(rng, queries * heads * width, -1f, 1f);
        int[] table = [];
        float[] pool;
        if (blockSize > 0)
        {
            // The sequence's blocks scattered through a larger pool, in shuffled order.
            int blocks = (keys + blockSize - 1) / blockSize;
            table = [.. Enumerable.Range(0, blocks * 2).OrderBy(_ => rng.Next()).Take(blocks)];
            pool = Rng.Uniform(rng, blocks * 2 * blockSize * width, -1f, 1f);
        }
        else
        {
            pool = Rng.Uniform(rng, keys * width, -1f, 1f);
        }

        float scale = 1f / MathF.Sqrt(width) * 3f;
        float[] expected = new float[queries * heads * latent];
        float[] actual = Poisoned(expected.Length);
        LatentAttentionProblem Problem(Span<float> output) => new()
        {
            Q = q, Latent = pool, BlockTable = table, BlockSize = blockSize, Output = output,
            Queries = queries, Keys = keys, FirstQueryPosition = keys - queries, Heads = heads, LatentDim = latent, RopeDim = rope, Scale = scale,
        };
        cpu.LatentAttention(Problem(expected));
        gpu.PoisonScratch(OpChecks.Poison);
        gpu.LatentAttention(Problem(actual));
        return new CheckResult($"backend latent attention q{queries} k{keys} h{heads} {latent}+{rope}{(blockSize > 0 ? $" paged/{blockSize}" : "")}", Tolerance, Agreement.Of(actual, expected));
    }

    private static float[] Poisoned(int n)
    {
        float[] a = new float[n];
        Array.Fill(a, float.NaN);
        return a;
    }
}
