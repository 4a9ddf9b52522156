using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace R1Orleans.Client.Benchmarks;

/// <summary>
/// The physical ceilings a CPU benchmark is reported against, measured in the same run: streaming read bandwidth
/// (all threads summing a buffer far larger than the caches) and the matrix rate (a register-blocked FMA GEMM on
/// cache-resident tiles, all threads). Medians of several repeats.
/// </summary>
public sealed record HardwareCeiling(double ReadBytesPerSecond, double FlopsPerSecond, int Threads)
{
    /// <summary>
    /// A GPU's ceiling as bench-engine measures it: the device's copy bandwidth (read + write over time) and no matrix
    /// rate (none is measured here: FLOP floors count as zero, and a table shows none; r1-gpucheck and torch_moe.py
    /// measure the GPU's rates).
    /// </summary>
    public static HardwareCeiling ForDevice(double copyBytesPerSecond) =>
        new(copyBytesPerSecond, double.PositiveInfinity, 0);

    /// <summary>Whether a matrix rate was measured (false for <see cref="ForDevice"/>).</summary>
    public bool HasMatrixRate => double.IsFinite(FlopsPerSecond);

    public static HardwareCeiling Measure(int threads, int repeats = 5)
    {
        return new HardwareCeiling(MeasureBandwidth(threads, repeats), MeasureMatrixRate(threads, repeats), threads);
    }

    public static double MeasureBandwidth(int threads, int repeats)
    {
        const int floats = 128 << 20; // 512 MiB
        float[] data = new float[floats];
        Parallel.For(0, threads, t =>
        {
            int per = floats / threads;
            data.AsSpan(t * per, per).Fill(1f + t);
        });
        var samples = new List<double>();
        double sink = 0;
        for (int r = 0; r < repeats + 1; r++)
        {
            var sw = Stopwatch.StartNew();
            double[] partial = new double[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                int per = floats / threads;
                partial[t] = TensorPrimitives.Sum(new ReadOnlySpan<float>(data, t * per, per));
            });
            sw.Stop();
            sink += partial.Sum();
            if (r > 0)
            {
                samples.Add((double)floats * sizeof(float) / sw.Elapsed.TotalSeconds);
            }
        }

        GC.KeepAlive(sink);
        return Median(samples);
    }

    /// <summary>C[64×256] += A[64×256]·B[256×256] per thread, 4×2-vector register tiles of FMAs (512-bit where native), data in L2.</summary>
    public static double MeasureMatrixRate(int threads, int repeats)
    {
        const int m = 64, k = 256, n = 256, iterations = 40;
        var samples = new List<double>();
        for (int r = 0; r < repeats + 1; r++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
            {
                float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
                a.AsSpan().Fill(0.5f);
                b.AsSpan().Fill(0.25f);
                for (int it = 0; it < iterations; it++)
                {
                    // The widest vectors the CPU runs natively: the ceiling is the machine's, not one code path's.
                    if (Vector512.IsHardwareAccelerated)
                    {
                        Gemm512(a, b, c, m, k, n);
                    }
                    else
                    {
                        Gemm(a, b, c, m, k, n);
                    }
                }

                GC.KeepAlive(c);
            });
            sw.Stop();
            if (r > 0)
            {
                samples.Add(2.0 * m * k * n * iterations * threads / sw.Elapsed.TotalSeconds);
            }
        }

        return Median(samples);
    }

    private static void Gemm(float[] a, float[] b, float[] c, int m, int k, int n)
    {
        var va = a.AsSpan();
        var vb = b.AsSpan();
        var vc = c.AsSpan();
        for (int i = 0; i < m; i += 4)
        {
            for (int j = 0; j < n; j += 16)
            {
                Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
                Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
                for (int p = 0; p < k; p++)
                {
                    Vector256<float> b0 = Vector256.Create<float>(vb.Slice((p * n) + j, 8));
                    Vector256<float> b1 = Vector256.Create<float>(vb.Slice((p * n) + j + 8, 8));
                    Vector256<float> a0 = Vector256.Create(va[(i * k) + p]);
                    Vector256<float> a1 = Vector256.Create(va[((i + 1) * k) + p]);
                    Vector256<float> a2 = Vector256.Create(va[((i + 2) * k) + p]);
                    Vector256<float> a3 = Vector256.Create(va[((i + 3) * k) + p]);
                    c00 = Vector256.FusedMultiplyAdd(a0, b0, c00);
                    c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
                    c10 = Vector256.FusedMultiplyAdd(a1, b0, c10);
                    c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
                    c20 = Vector256.FusedMultiplyAdd(a2, b0, c20);
                    c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
                    c30 = Vector256.FusedMultiplyAdd(a3, b0, c30);
                    c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
                }

                Store(vc, (i * n) + j, c00, c01);
                Store(vc, ((i + 1) * n) + j, c10, c11);
                Store(vc, ((i + 2) * n) + j, c20, c21);
                Store(vc, ((i + 3) * n) + j, c30, c31);
            }
        }
    }

    private static void Store(Span<float> c, int at, Vector256<float> lo, Vector256<float> hi)
    {
        (Vector256.Create<float>(c.Slice(at, 8)) + lo).CopyTo(c.Slice(at, 8));
        (Vector256.Create<float>(c.Slice(at + 8, 8)) + hi).CopyTo(c.Slice(at + 8, 8));
    }

    private static void Gemm512(float[] a, float[] b, float[] c, int m, int k, int n)
    {
        var va = a.AsSpan();
        var vb = b.AsSpan();
        var vc = c.AsSpan();
        for (int i = 0; i < m; i += 4)
        {
            for (int j = 0; j < n; j += 32)
            {
                Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
                Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
                for (int p = 0; p < k; p++)
                {
                    Vector512<float> b0 = Vector512.Create<float>(vb.Slice((p * n) + j, 16));
                    Vector512<float> b1 = Vector512.Create<float>(vb.Slice((p * n) + j + 16, 16));
                    Vector512<float> a0 = Vector512.Create(va[(i * k) + p]);
                    Vector512<float> a1 = Vector512.Create(va[((i + 1) * k) + p]);
                    Vector512<float> a2 = Vector512.Create(va[((i + 2) * k) + p]);
                    Vector512<float> a3 = Vector512.Create(va[((i + 3) * k) + p]);
                    c00 = Vector512.FusedMultiplyAdd(a0, b0, c00);
                    c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
                    c10 = Vector512.FusedMultiplyAdd(a1, b0, c10);
                    c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
                    c20 = Vector512.FusedMultiplyAdd(a2, b0, c20);
                    c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
                    c30 = Vector512.FusedMultiplyAdd(a3, b0, c30);
                    c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
                }

                Store512(vc, (i * n) + j, c00, c01);
                Store512(vc, ((i + 1) * n) + j, c10, c11);
                Store512(vc, ((i + 2) * n) + j, c20, c21);
                Store512(vc, ((i + 3) * n) + j, c30, c31);
            }
        }
    }

    private static void Store512(Span<float> c, int at, Vector512<float> lo, Vector512<float> hi)
    {
        (Vector512.Create<float>(c.Slice(at, 16)) + lo).CopyTo(c.Slice(at, 16));
        (Vector512.Create<float>(c.Slice(at + 16, 16)) + hi).CopyTo(c.Slice(at + 16, 16));
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }
}
