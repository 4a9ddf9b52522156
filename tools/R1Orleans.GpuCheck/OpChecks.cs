using R1Orleans.Backend;
using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>RMSNorm (+ residual) and SiLU x up on the GPU against CpuBackend, on fresh random inputs, outputs poisoned with NaN first.</summary>
public static class OpChecks
{
    /// <summary>The NaN bit pattern written over every output before a kernel runs.</summary>
    public const uint Poison = 0x7FC00000u;

    /// <summary>float32 math in a different summation order: relative L2 error well under 1e-5.</summary>
    public const double Float32Tolerance = 1e-5;

    public static IEnumerable<CheckResult> Run(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng)
    {
        var cpu = new CpuBackend();
        // Threads as the forward picks them (256; 1,024 at few rows): rows held in registers (up to 8 values a thread)
        // and rows looped over (7,168 at 256 threads; 9,000 at 1,024), with a partial last step.
        foreach ((int rows, int d, int threads) in new[] { (7, 7168, 256), (1, 7168, 1024), (3, 1536, 256), (1, 512, 256), (2, 9000, 1024), (2, 1000, 1024) })
        {
            foreach (bool withResidual in new[] { false, true })
            {
                foreach (CheckResult c in RmsNorm(context, kernels, stream, cpu, rng, rows, d, withResidual, threads))
                {
                    yield return c;
                }
            }
        }

        foreach (int n in new[] { 1, 1000, 1_048_579 })
        {
            yield return SiluMul(context, kernels, stream, cpu, rng, n);
        }
    }

    private static IEnumerable<CheckResult> RmsNorm(CudaContext context, KernelLibrary kernels, CudaStream stream, CpuBackend cpu, Random rng, int rows, int d, bool withResidual, int threads)
    {
        float[] x = Rng.Uniform(rng, rows * d, -2f, 2f);
        float[] res = Rng.Uniform(rng, rows * d, -2f, 2f);
        float[] w = Rng.Uniform(rng, d, 0.5f, 1.5f);
        const float eps = 1e-6f;
        float[] sum = withResidual ? x.Zip(res, (a, b) => a + b).ToArray() : x;
        float[] expected = new float[rows * d];
        cpu.RmsNorm(sum, rows, w, eps, expected);

        using DeviceBuffer dx = context.Allocate(x.Length * 4L);
        using DeviceBuffer dr = context.Allocate(x.Length * 4L);
        using DeviceBuffer dw = context.Allocate(d * 4L);
        using DeviceBuffer dy = context.Allocate(x.Length * 4L);
        dx.Upload<float>(x);
        dr.Upload<float>(res);
        dw.Upload<float>(w);
        dy.Fill32(Poison);
        kernels.Kernel("rmsnorm", "rmsnorm").Launch(stream, rows, threads, 0, dx, withResidual ? dr.Pointer : 0UL, dw, dy, d, eps);
        stream.Synchronize();
        string name = $"rmsnorm{(withResidual ? "+residual" : "")} [{rows}, {d}], {threads} threads";
        yield return new CheckResult(name, Float32Tolerance, Agreement.Of(dy.Download<float>(x.Length), expected));
        if (withResidual)
        {
            // x + residual is one float add on both sides: bit-identical.
            yield return new CheckResult(name + " residual out", 0, Agreement.Of(dr.Download<float>(x.Length), sum));
        }
    }

    private static CheckResult SiluMul(CudaContext context, KernelLibrary kernels, CudaStream stream, CpuBackend cpu, Random rng, int n)
    {
        float[] g = Rng.Uniform(rng, n, -8f, 8f);
        float[] u = Rng.Uniform(rng, n, -2f, 2f);
        float[] expected = new float[n];
        cpu.SiluMul(g, u, expected);
        using DeviceBuffer dg = context.Allocate(n * 4L);
        using DeviceBuffer du = context.Allocate(n * 4L);
        using DeviceBuffer dy = context.Allocate(n * 4L);
        dg.Upload<float>(g);
        du.Upload<float>(u);
        dy.Fill32(Poison);
        int blocks = Math.Min((n + 255) / 256, 132 * 16);
        kernels.Kernel("silu_mul", "silu_mul").Launch(stream, blocks, 256, 0, dg, du, dy, (long)n);
        stream.Synchronize();
        return new CheckResult($"silu_mul [{n}]", Float32Tolerance, Agreement.Of(dy.Download<float>(n), expected));
    }
}
