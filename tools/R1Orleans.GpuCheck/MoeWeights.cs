using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>Random FP8 expert weights generated on the GPU (every e4m3 code but NaN) and random block scales from the host.</summary>
public static class MoeWeights
{
    /// <summary>Scales keep gate/up/down outputs near 1 for inputs in [-1, 1] (random e4m3 codes have an RMS near 110).</summary>
    public const float ScaleLo = 0.5e-4f;

    public const float ScaleHi = 1.5e-4f;

    public static void Fill(MoeFp8Experts moe, KernelLibrary kernels, CudaStream stream, Random rng)
    {
        CudaKernel fill = kernels.Kernel("bench_util", "fill_fp8");
        fill.Launch(stream, 132 * 16, 256, 0, moe.W13, (ulong)(moe.W13.Bytes / 4), (uint)rng.Next());
        fill.Launch(stream, 132 * 16, 256, 0, moe.W2, (ulong)(moe.W2.Bytes / 4), (uint)rng.Next());
        moe.S13.Upload<float>(Rng.Uniform(rng, (int)(moe.S13.Bytes / 4), ScaleLo, ScaleHi));
        moe.S2.Upload<float>(Rng.Uniform(rng, (int)(moe.S2.Bytes / 4), ScaleLo, ScaleHi));
        stream.Synchronize();
    }
}
