using R1Orleans.Backend;
using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>
/// The device forward's tensor-core linears against float64/float32 references on the same rounded inputs, so that only
/// summation order separates them (outputs NaN-poisoned first): <see cref="DenseMma"/> over BF16 (lm_head, and the absorbed
/// per-head projections with their strides, one and several passes of 64 tokens, CTAs with idle warps) on BF16-rounded
/// weights and inputs, and over FP8 weights (V3's linear shapes: K splits, 576 rows, two passes) on f16-rounded inputs
/// against CpuBackend.Linear on the same FP8 weight, and fused pairs (q_a + kv_a, gate + up) in one launch; <see cref="DenseFp8Mma"/> the same way, with rows a multiple of 128
/// and padded (kv_a_proj_with_mqa's 576).
/// </summary>
public static class TensorCoreLinearChecks
{
    public const double Tolerance = 1e-5;

    public static IEnumerable<CheckResult> Run(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng)
    {
        using var dense = new DenseMma(context, kernels);

        // (batches, rows, cols, tokens, x row stride, x batch stride, y row stride, y batch stride)
        (int B, int R, int C, int N, int Xs, int Xb, int Ys, int Yb)[] cases =
        [
            (1, 4096, 7168, 1, 7168, 0, 4096, 0),
            (1, 4096, 7168, 64, 7168, 0, 4096, 0),
            (1, 16 * 13, 512, 70, 512, 0, 16 * 13, 0),
            (128, 512, 128, 5, 128 * 192, 192, 128 * 576, 576),
            (128, 128, 512, 64, 128 * 512, 512, 128 * 128, 128),
            (4, 32, 64, 9, 4 * 96, 96, 4 * 40, 40),
        ];
        foreach (var k in cases)
        {
            yield return MlaDecodeCheck.Guarded($"dense_bf16 {k.B} x [{k.R}, {k.C}], {k.N} tokens", () => Bf16(context, dense, stream, rng, k.B, k.R, k.C, k.N, k.Xs, k.Xb, k.Ys, k.Yb));
        }

        var cpu = new CpuBackend();
        foreach ((int rows, int cols, int n) in new[] { (576, 7168, 1), (576, 7168, 64), (1536, 7168, 64), (24576, 1536, 9), (7168, 2048, 70), (288, 1024, 9) })
        {
            yield return MlaDecodeCheck.Guarded($"dense_fp8 [{rows}, {cols}], {n} rows", () => Fp8(context, kernels, stream, cpu, rng, rows, cols, n, dense));
        }

        foreach ((int first, int second, int cols, int n) in new[] { (1536, 576, 7168, 1), (1536, 576, 7168, 64), (2048, 2048, 7168, 9), (384, 288, 1024, 70) })
        {
            yield return MlaDecodeCheck.Guarded($"dense_fp8 pair [{first} + {second}, {cols}], {n} rows", () => Pair(context, dense, stream, cpu, rng, first, second, cols, n));
        }

        foreach ((int rows, int cols, int n) in new[] { (576, 7168, 1), (576, 7168, 64), (1536, 7168, 64), (288, 1024, 9) })
        {
            yield return MlaDecodeCheck.Guarded($"DenseFp8Mma [{rows}, {cols}], {n} rows", () => Fp8(context, kernels, stream, cpu, rng, rows, cols, n, null));
        }
    }

    private static float RoundBf16(float v) => MlaDecodeReference.Bf16ToFloat(MlaDecodeReference.FloatToBf16(v));

    private static CheckResult Bf16(CudaContext context, DenseMma dense, CudaStream stream, Random rng, int batches, int rows, int cols, int n, int xs, int xb, int ys, int yb)
    {
        float[] w = [.. Rng.Uniform(rng, batches * rows * cols, -0.1f, 0.1f).Select(RoundBf16)];
        int xCount = ((n - 1) * xs) + ((batches - 1) * xb) + cols;
        float[] x = [.. Rng.Uniform(rng, xCount + (xCount % 2), -1f, 1f).Select(RoundBf16)];
        int yCount = ((n - 1) * ys) + ((batches - 1) * yb) + rows;
        float[] expected = new float[yCount];
        var written = new bool[yCount];
        for (int b = 0; b < batches; b++)
        {
            for (int t = 0; t < n; t++)
            {
                for (int r = 0; r < rows; r++)
                {
                    double s = 0;
                    for (int c = 0; c < cols; c++)
                    {
                        s += (double)w[(((long)b * rows) + r) * cols + c] * x[(t * xs) + (b * xb) + c];
                    }

                    expected[(t * ys) + (b * yb) + r] = (float)s;
                    written[(t * ys) + (b * yb) + r] = true;
                }
            }
        }

        using DeviceBuffer dw = Upload(context, w);
        using DeviceBuffer dx = Upload(context, x);
        using DeviceBuffer dx16 = context.Allocate(Math.Max(256, x.Length * 2L));
        using DeviceBuffer dy = context.Allocate(yCount * 4L);
        dy.Fill32(OpChecks.Poison);
        using PackedMatrix packed = dense.PackBf16(stream, dw.Pointer, batches, rows, cols);
        dense.Reserve(packed, n);
        dense.Convert(stream, dx.Pointer, x.Length, dx16.Pointer);
        dense.Launch(stream, packed, dx16.Pointer, n, xs, xb, dy.Pointer, ys, yb);
        stream.Synchronize();
        float[] got = dy.Download<float>(yCount);

        // Only the outputs the call owns are compared; the gaps between them must still hold the poison.
        bool gapsUntouched = Enumerable.Range(0, yCount).All(i => written[i] || float.IsNaN(got[i]));
        float[] actual = [.. Enumerable.Range(0, yCount).Where(i => written[i]).Select(i => got[i])];
        float[] want = [.. Enumerable.Range(0, yCount).Where(i => written[i]).Select(i => expected[i])];
        Agreement a = Agreement.Of(actual, want);
        return new CheckResult($"dense_bf16 {batches} x [{rows}, {cols}], {n} tokens{(gapsUntouched ? string.Empty : ", WROTE OUTSIDE ITS OUTPUTS")}", Tolerance, gapsUntouched ? a : a with { NonFinite = a.NonFinite + 1 });
    }

    /// <summary>An FP8 linear through DenseMma (<paramref name="dense"/>) or DenseFp8Mma (null), against CpuBackend.Linear on f16-rounded inputs.</summary>
    private static CheckResult Fp8(CudaContext context, KernelLibrary kernels, CudaStream stream, CpuBackend cpu, Random rng, int rows, int cols, int n, DenseMma? dense)
    {
        Matrix w = BackendChecks.RandomFp8(rng, rows, cols, 128, 128);
        float[] x = [.. Rng.Uniform(rng, n * cols, -1f, 1f).Select(v => (float)(Half)v)];
        float[] expected = new float[n * rows];
        cpu.Linear(x, n, w, expected);
        using DeviceWeight dw = DeviceWeight.Upload(context, w, stream);
        using DeviceBuffer dx = Upload(context, x);

        // One row more than the output, poisoned: nothing may be written past the last row (a padded weight's zero rows).
        using DeviceBuffer dy = context.Allocate((expected.Length + 1) * 4L);
        dy.Fill32(OpChecks.Poison);
        string name;
        if (dense is not null)
        {
            using PackedMatrix packed = dense.PackFp8(stream, dw);
            dense.Reserve(packed, n);
            using DeviceBuffer dx16 = context.Allocate(Math.Max(256, x.Length * 2L));
            dense.Convert(stream, dx.Pointer, x.Length, dx16.Pointer, toF16: true);
            dense.Launch(stream, packed, dx16.Pointer, n, cols, 0, dy.Pointer, rows, 0);
            stream.Synchronize();
            DenseMmaConfig c = DenseMma.ConfigFor(n, rows, cols, 1, fp8: true, context.MultiprocessorCount);
            name = $"dense_fp8 [{rows}, {cols}], {n} rows (nt {c.TokenTiles}, mt {c.RowTiles}, {c.Splits} K splits)";
        }
        else
        {
            using var mma = new DenseFp8Mma(context, kernels, n, cols, rows);
            mma.Pack(dw, stream);
            stream.Synchronize();
            mma.Launch(stream, dx.Pointer, n, dw, dy.Pointer);
            stream.Synchronize();
            name = $"DenseFp8Mma [{rows} (padded {DenseFp8Mma.PaddedRows(rows)}), {cols}], {n} rows";
        }

        float[] got = dy.Download<float>(expected.Length + 1);
        bool tailUntouched = float.IsNaN(got[^1]);
        Agreement a = Agreement.Of(got.AsSpan(0, expected.Length), expected);
        return new CheckResult(name + (tailUntouched ? string.Empty : ", WROTE PAST ITS OUTPUT"), Tolerance, tailUntouched ? a : a with { NonFinite = a.NonFinite + 1 });
    }

    /// <summary>A fused pair (q_a + kv_a, gate + up) through DenseMma.LaunchPair against CpuBackend.Linear of each weight on f16-rounded inputs.</summary>
    private static CheckResult Pair(CudaContext context, DenseMma dense, CudaStream stream, CpuBackend cpu, Random rng, int firstRows, int secondRows, int cols, int n)
    {
        Matrix w1 = BackendChecks.RandomFp8(rng, firstRows, cols, 128, 128);
        Matrix w2 = BackendChecks.RandomFp8(rng, secondRows, cols, 128, 128);
        float[] x = [.. Rng.Uniform(rng, n * cols, -1f, 1f).Select(v => (float)(Half)v)];
        float[] e1 = new float[n * firstRows], e2 = new float[n * secondRows];
        cpu.Linear(x, n, w1, e1);
        cpu.Linear(x, n, w2, e2);
        using DeviceWeight d1 = DeviceWeight.Upload(context, w1, stream);
        using DeviceWeight d2 = DeviceWeight.Upload(context, w2, stream);
        using DeviceBuffer dx = Upload(context, x);
        using DeviceBuffer dx16 = context.Allocate(Math.Max(256, x.Length * 2L));
        using DeviceBuffer y1 = context.Allocate((e1.Length + 1) * 4L);
        using DeviceBuffer y2 = context.Allocate((e2.Length + 1) * 4L);
        y1.Fill32(OpChecks.Poison);
        y2.Fill32(OpChecks.Poison);
        using PackedMatrix pair = dense.PackFp8Pair(stream, d1, d2);
        dense.Reserve(pair, n);
        dense.Convert(stream, dx.Pointer, x.Length, dx16.Pointer, toF16: true);
        dense.LaunchPair(stream, pair, dx16.Pointer, n, y1.Pointer, y2.Pointer);
        stream.Synchronize();
        float[] g1 = y1.Download<float>(e1.Length + 1), g2 = y2.Download<float>(e2.Length + 1);
        bool tails = float.IsNaN(g1[^1]) && float.IsNaN(g2[^1]);
        Agreement a = Agreement.Of([.. g1.Take(e1.Length), .. g2.Take(e2.Length)], [.. e1, .. e2]);
        DenseMmaConfig c = DenseMma.ConfigFor(n, firstRows + secondRows, cols, 1, fp8: true, context.MultiprocessorCount);
        return new CheckResult($"dense_fp8 pair [{firstRows} + {secondRows}, {cols}], {n} rows ({c.Splits} K splits){(tails ? string.Empty : ", WROTE PAST AN OUTPUT")}", Tolerance, tails ? a : a with { NonFinite = a.NonFinite + 1 });
    }

    private static DeviceBuffer Upload(CudaContext context, float[] values)
    {
        DeviceBuffer b = context.Allocate(Math.Max(4, values.Length * 4L));
        b.Upload<float>(values);
        return b;
    }
}
